"""Errors a user can cause. Each carries one line that names what went wrong and where.

The command line prints ``str(error)`` and exits non-zero; no traceback reaches the user.
"""


class SimError(Exception):
    """Base class: a problem with the user's input, reported in one line."""

    exit_code = 2


class ConfigError(SimError):
    """A malformed preset, an unknown parameter, or an impossible option value."""


class KernelLoadError(SimError):
    """The kernel file is missing, unreadable, does not import, or defines no kernel."""


class KernelFault(SimError):
    """The kernel did something the hardware forbids or the simulator must report.

    Out-of-bounds tensor or TCM accesses, races between cores, a kernel that raised,
    a kernel that does not finish.
    """

    exit_code = 3


class SimulationLimit(KernelFault):
    """The kernel exceeded a step, iteration, cycle or wall-time limit."""
