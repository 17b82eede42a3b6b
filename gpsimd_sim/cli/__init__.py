"""The ``gpsimd-sim`` (``python -m gpsimd_sim``) command line.

Every user error ends in one line on stderr and a non-zero exit, never a traceback; the
exit codes are in ``errors.py`` and the README. Subcommands live one per module here; each
has ``add_parser(subparsers)``. ``GPSIMD_SIM_DEBUG=1`` shows the traceback of an internal
error.
"""
from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading

from .. import __version__, simulation
from ..errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, SimError
from . import calibrate, mlp, run, sweep, validate

COMMANDS = [run, mlp, calibrate, validate, sweep]


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage block) and exits 2."""

    def error(self, message: str):
        # a subcommand's prog is "gpsimd-sim run": every error line starts "gpsimd_sim: error:"
        _, _, command = self.prog.partition(" ")
        where = f"{command}: " if command else ""
        self.exit(EXIT_USAGE, f"gpsimd_sim: error: {where}{message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gpsimd-sim",
                    description="Cycle-approximate simulator of the Trainium/Inferentia2 "
                                "GPSIMD engine (also: python -m gpsimd_sim)")
    parser.add_argument("--version", action="version", version=f"gpsimd-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _error(message: str) -> None:
    # one line even when a kernel's own exception message spans several
    print(f"gpsimd_sim: error: {' '.join(str(message).splitlines())}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SimError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("gpsimd_sim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # writing --out, --trace or the fitted preset, reading a file
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}")
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, and how to see more
        if os.environ.get("GPSIMD_SIM_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (please report it; "
               "GPSIMD_SIM_DEBUG=1 shows the traceback)")
        return EXIT_INTERNAL


def entry() -> None:
    """The console command (``gpsimd-sim``, ``python -m gpsimd_sim``): ``main``, then exit
    without the interpreter's teardown.

    A run leaves up to millions of objects (records, numba's types and code) that the
    teardown would free one by one: 0.2 s after a small run's result is printed, 0.5 s after
    a large one's; the operating system takes the memory back at once. Exit handlers still
    run (the functional worker is stopped), and every file the simulator writes is closed
    before ``main`` returns. With another thread still alive (one a user's code started),
    the ordinary exit.
    """
    simulation.freeze_after_run = True   # this process ends with the command
    code = main()
    if threading.active_count() != 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # noqa: SLF001 - what the ordinary exit would run first
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:          # a reader that went away (`| head`): nothing left to say
        pass
    os._exit(code)
