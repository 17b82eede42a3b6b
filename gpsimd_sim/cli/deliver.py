"""What ``run`` and ``mlp`` do with a finished result: the output folder, the trace, and the
one document or summary on standard output (nothing else goes there)."""
from __future__ import annotations

import argparse
import os
import sys
import threading
from contextlib import contextmanager

from ..report.output import OutputGuard, to_json, write_atomic, write_folder


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON document (with schema_version) instead of "
                        "the summary")
    p.add_argument("--out", metavar="DIR",
                   help="also write the run into folder DIR, atomically: result.json, "
                        "config.json (the resolved configuration), summary.txt and "
                        "trace.json")
    p.add_argument("--trace", metavar="FILE.json",
                   help="write a timeline: Chrome trace-event JSON for ui.perfetto.dev or "
                        "chrome://tracing (docs/tracing.md)")


def guard(args: argparse.Namespace, inputs: dict) -> OutputGuard:
    """Refuse, before anything runs, outputs that would overwrite an input or each other."""
    g = OutputGuard()
    for label, path in inputs.items():
        g.input(label, path)
    g.output("--out", args.out, folder=True)
    g.output("--trace", args.trace)
    return g


def deliver(args: argparse.Namespace, doc: dict, summary: str, trace_fn) -> None:
    """Write --out and --trace, then print the document or the summary."""
    trace = None
    if args.trace or args.out:
        trace = to_json(trace_fn(), indent=None)
    if args.out:
        write_folder(args.out, {"result.json": to_json(doc), "config.json": to_json(doc["config"]),
                                "summary.txt": summary + "\n", "trace.json": trace})
    if args.trace:
        write_atomic(args.trace, trace)
    emit(to_json(doc) if args.json else summary + "\n")


def emit(text: str) -> None:
    """Print to standard output; a reader that went away (``| head``) is not an error, and
    the command's exit status is kept."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())   # so the interpreter's final flush is quiet


@contextmanager
def progress_note(what: str, after_s: float = 1.5):
    """On a terminal, say what a step that takes more than ``after_s`` seconds is doing."""
    if not sys.stderr.isatty():
        yield
        return
    timer = threading.Timer(after_s, lambda: print(f"gpsimd_sim: {what}...", file=sys.stderr,
                                                   flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def warn(message: str) -> None:
    print(f"gpsimd_sim: warning: {message}", file=sys.stderr)


__all__ = ["add_output_options", "guard", "deliver", "emit", "warn"]
