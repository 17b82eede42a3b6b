"""``python -m gpsimd_sim sweep KERNEL``: every combination of buffer size, core count and
swept preset parameters, with results.csv/json and plots in ``--out``."""
from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from ..errors import EXIT_OK, EXIT_WRONG_OUTPUT
from ..report.output import OutputGuard, to_json
from .deliver import emit
from .common import (add_hardware_options, check, non_negative_int, parse_shape, positive_int,
                     timeout_seconds)

HELP = "run a kernel (or the MLP) over buffer sizes, core counts and preset parameters"


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help=HELP, description=HELP)
    p.add_argument("kernel", help="kernel file, e.g. kernels/relu_multicore.py")
    p.add_argument("--buffer-size", metavar="N,N,...",
                   help="buffer sizes in elements, e.g. 64,128,256 (default: the kernel's own)")
    p.add_argument("--cores", metavar="RANGE",
                   help="core counts, e.g. 1-8 or 1,2,4,8 (default: 1 to all of the preset's; "
                        "a single-core kernel runs on 1)")
    p.add_argument("--shape", type=parse_shape, default=None,
                   help="input shape, e.g. 32x4096 (default)")
    p.add_argument("--mlp", action="store_true",
                   help="sweep the MLP's throughput with this kernel as its ReLU instead")
    p.add_argument("--model", default="models/mlp.py", help="model file for --mlp")
    p.add_argument("--sweep-set", dest="sweep_sets", action="append", default=[],
                   metavar="KEY=V1,V2,...",
                   help="also sweep a preset parameter, e.g. dma_bytes_per_ns=13.6,27.2,54.4 "
                        "(repeatable)")
    add_hardware_options(p)
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the inputs (default 0)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output folder (default sweep_<kernel>[_mlp]); run again with the same "
                        "folder to resume")
    p.add_argument("--jobs", type=positive_int, default=None,
                   help="local worker processes (default: all cores)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run the points on this Dask scheduler, e.g. tcp://scheduler:8786")
    p.add_argument("--timeout", type=timeout_seconds, default=600.0,
                   help="wall-time limit of one point's functional stage in seconds (default 600)")
    p.add_argument("--json", action="store_true",
                   help="print the sweep (settings, every row, files) as one JSON document "
                        "with schema_version")
    p.add_argument("--no-band", dest="band", action="store_false",
                   help="skip each point's error band (columns band_low, band_high: of the "
                        "simulated time in ns, or with --mlp of the iterations/s)")
    p.add_argument("--band-members", type=positive_int, default=None, metavar="N",
                   help="ensemble members behind each band (default 100)")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from ..sweep import build_spec, format_outcome, run_sweep  # matplotlib etc. only when used

    check(not (args.dask and args.jobs), "--jobs and --dask exclude each other: the Dask "
          "cluster decides how many points run at once")
    spec = build_spec(args.kernel, args.buffer_size, args.cores, args.shape, args.mlp,
                      args.model, args.preset, args.overrides, args.sweep_sets, args.seed,
                      timeout_s=args.timeout, band=args.band,
                      band_members=args.band_members)
    for note in spec.notes:
        print(f"gpsimd_sim: note: {note}", file=sys.stderr)
    out = args.out or f"sweep_{Path(args.kernel).stem}{'_mlp' if args.mlp else ''}"
    guard = OutputGuard()
    guard.input("kernel file", args.kernel)
    guard.input("model file", args.model if args.mlp else None)
    guard.output("--out", out, folder=True, markers=("results.json", ".lock"))
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        outcome = run_sweep(spec, out, jobs=args.jobs, dask=args.dask)
    finally:
        signal.signal(signal.SIGTERM, previous)
    emit(to_json(outcome.to_dict()) if args.json else format_outcome(outcome) + "\n")
    return EXIT_WRONG_OUTPUT if outcome.failed else EXIT_OK


def _terminate(signum, frame):
    # SIGTERM ends a sweep as Ctrl-C does: finished rows saved, workers and plots stopped
    raise KeyboardInterrupt
