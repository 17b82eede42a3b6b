"""``python -m gpsimd_sim validate``: documented throughputs beside the simulated ones."""
from __future__ import annotations

import argparse

from ..report.output import to_json, write_atomic
from ..workload.calibration import validate, validation_markdown
from .common import positive_float

HELP = "compare simulated MLP throughput with the documented trn1 numbers"


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help=HELP, description=HELP)
    p.add_argument("--preset", default="trn1")
    p.add_argument("--threshold", type=positive_float, default=5.0,
                   help="largest error in %% allowed before exiting non-zero (default 5)")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per point")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown to FILE")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    rows = validate(args.preset)
    if args.markdown:
        write_atomic(args.markdown, validation_markdown(rows, args.preset, args.threshold))
    if args.json:
        print(to_json(rows), end="")
    else:
        print(f"{'variant':<24}{'documented':>12}{'simulated':>12}{'error':>9}  role")
        for r in rows:
            print(f"{r['variant']:<24}{r['documented_iter_per_s']:12.2f}"
                  f"{r['simulated_iter_per_s']:12.2f}{r['error_pct']:+8.2f}%  {r['role']}")
    if not args.json:
        print("(prediction: never seen by the fit; the multicore point did shape the choice of "
              "mechanisms, see docs/calibration.md)")
    bad = [r for r in rows if abs(r["error_pct"]) > args.threshold]
    if bad and not args.json:
        print(f"{len(bad)} point(s) off by more than {args.threshold:g}%")
    return 1 if bad else 0
