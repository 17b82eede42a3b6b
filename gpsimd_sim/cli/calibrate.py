"""``python -m gpsimd_sim calibrate``: fit the unsourced parameters to documented throughputs."""
from __future__ import annotations

import argparse

from ..config.presets import FIELD_INDEX, SECTIONS
from ..workload.calibration import fit, sensitivity, write_fitted
from ..workload.measurements import FIT_VARIANTS, FITTED_PARAMETERS

HELP = "fit the parameters no public source gives to the documented measurements"


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help=HELP, description=HELP)
    p.add_argument("--preset", default="trn1", help="preset to calibrate (default trn1)")
    p.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    p.add_argument("--sensitivity", action="store_true",
                   help="also refit under each candidate mechanism and show the held-out error")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    result = fit(args.preset)
    print(f"fitted {', '.join(FITTED_PARAMETERS)} on {len(FIT_VARIANTS)} documented points "
          f"({result.iterations} Newton steps):")
    for name, value in result.values.items():
        section, field = FIELD_INDEX[name]
        unit = next(f.metadata["unit"] for f in SECTIONS[section].__dataclass_fields__.values()
                    if f.name == field)
        print(f"  {name:<20} = {value:,.3f} {unit}")
    for p in result.fit_points:
        print(f"  {p['variant']:<24} documented {p['documented_iter_per_s']:9.3f}  simulated "
              f"{p['simulated_iter_per_s']:9.3f} iter/s  ({p['error_pct']:+.4f}%)")
    if not args.dry_run:
        print(f"wrote {write_fitted(result)}")
    if args.sensitivity:
        print("held-out error when the fit is redone under each candidate mechanism:")
        for row in sensitivity(args.preset):
            errs = ", ".join(f"{v} {e:+.1f}%" for v, e in row["held_out_error_pct"].items())
            print(f"  {row['mechanism']:<56} {errs}")
    return 0
