"""Errors a user can cause. Each carries one line that names what went wrong and where.

The command line prints ``str(error)`` and exits with the class's code; no traceback
reaches the user. Exit codes (README): 0 the output is correct (or unchecked), 1 the output
is wrong, 2 a usage or input error (an option, a preset, a kernel that does not load),
3 the kernel did something the hardware forbids or did not finish, 4 an internal error of
the simulator, 130 interrupted.
"""

EXIT_OK, EXIT_WRONG_OUTPUT, EXIT_USAGE, EXIT_KERNEL_FAULT, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


class SimError(Exception):
    """Base class: a problem with the user's input, reported in one line."""

    exit_code = EXIT_USAGE
    deterministic = True   # the same inputs give the same outcome (a sweep keeps it)


class ConfigError(SimError):
    """A malformed preset, an unknown parameter, or an impossible option value."""


class KernelLoadError(SimError):
    """The kernel file is missing, unreadable, does not import, or defines no kernel."""


class KernelFault(SimError):
    """The kernel did something the hardware forbids or the simulator must report.

    Out-of-bounds tensor or TCM accesses, races between cores, a kernel that raised,
    a kernel that does not finish.
    """

    exit_code = EXIT_KERNEL_FAULT


class SimulationLimit(KernelFault):
    """The kernel exceeded a step, iteration, cycle or wall-time limit."""


class WallTimeLimit(SimulationLimit):
    """The wall-time limit (--timeout) ran out: an outcome that depends on the machine's
    load, so a sweep reruns such a point on resume instead of keeping it."""

    deterministic = False
