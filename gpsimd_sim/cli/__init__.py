"""The ``python -m gpsimd_sim`` command line.

Every user error ends in one line on stderr and a non-zero exit, never a traceback.
Subcommands live one per module here; each has ``add_parser(subparsers)``.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import SimError
from . import calibrate, mlp, run, sweep, validate

COMMANDS = [run, mlp, calibrate, validate, sweep]


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage block) and exits 2."""

    def error(self, message: str):
        # a subcommand's prog is "gpsimd_sim run": every error line starts "gpsimd_sim: error:"
        root, _, command = self.prog.partition(" ")
        where = f"{command}: " if command else ""
        self.exit(2, f"{root}: error: {where}{message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gpsimd_sim",
                    description="Cycle-approximate simulator of the Trainium/Inferentia2 "
                                "GPSIMD engine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SimError as exc:
        # one line even when a kernel's own exception message spans several
        print(f"gpsimd_sim: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gpsimd_sim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # writing --out, --trace or the fitted preset, reading a file
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gpsimd_sim: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
