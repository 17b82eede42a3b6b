"""``python -m gpsimd_sim calibrate``: fit the parameters no source gives, to the documented
throughputs (default) or to your own microbenchmark measurements (--measurements)."""
from __future__ import annotations

import argparse

from ..config.presets import FIELD_INDEX, SECTIONS, user_fitted_path
from ..errors import EXIT_OK
from ..report.output import OutputGuard, to_json
from .deliver import emit, progress_note

HELP = "fit the parameters no public source gives to documented or your own measurements"


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help=HELP, description=HELP)
    p.add_argument("--preset", default="trn1", help="preset to calibrate (default trn1)")
    p.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    p.add_argument("--sensitivity", action="store_true",
                   help="also refit under each candidate mechanism and show the held-out error")
    p.add_argument("--measurements", metavar="FILE.csv",
                   help="fit to your own trn1 measurements of the microbenchmarks in "
                        "kernels/microbench (CSV format: docs/calibration.md) instead")
    p.add_argument("--out", metavar="FILE.toml",
                   help="where to write the fit (default: your config folder, "
                        "~/.config/gpsimd_sim or $GPSIMD_SIM_CONFIG_DIR; with "
                        "--measurements, a preset FILE that extends --preset)")
    p.add_argument("--json", action="store_true", help="print the fit as one JSON document")
    p.set_defaults(handler=main)


def _unit(name: str) -> str:
    section, field = FIELD_INDEX[name]
    return next(f.metadata["unit"] for f in SECTIONS[section].__dataclass_fields__.values()
                if f.name == field)


def main(args: argparse.Namespace) -> int:
    guard = OutputGuard()
    guard.input("measurements", args.measurements)
    guard.output("--out", args.out)
    if args.measurements:
        return _measured(args)
    from ..workload.calibration import fit, sensitivity, write_fitted
    from ..workload.measurements import FIT_VARIANTS, FITTED_PARAMETERS
    result = fit(args.preset)
    doc = {"schema_version": 1, "preset": args.preset, "fitted": result.values,
           "fit_points": result.fit_points, "newton_steps": result.iterations,
           "written": None, "sensitivity": None}
    lines = [f"fitted {', '.join(FITTED_PARAMETERS)} on {len(FIT_VARIANTS)} documented points "
             f"({result.iterations} Newton steps):"]
    for name, value in result.values.items():
        lines.append(f"  {name:<20} = {value:,.3f} {_unit(name)}")
    for p in result.fit_points:
        lines.append(f"  {p['variant']:<24} documented {p['documented_iter_per_s']:9.3f}  "
                     f"simulated {p['simulated_iter_per_s']:9.3f} iter/s  "
                     f"({p['error_pct']:+.4f}%)")
    if not args.dry_run:
        path = write_fitted(result, args.out)
        doc["written"] = path
        lines.append(f"wrote {path}")
        if args.out is None:
            lines.append(f"presets that take {args.preset}'s fit now read it from there, "
                         f"before the shipped one (delete {user_fitted_path(args.preset)} to "
                         "go back)")
    if args.sensitivity:
        with progress_note("refitting under each candidate mechanism"):
            rows = sensitivity(args.preset)
        doc["sensitivity"] = rows
        lines.append("held-out error when the fit is redone under each candidate mechanism:")
        for row in rows:
            errs = ", ".join(f"{v} {e:+.1f}%" for v, e in row["held_out_error_pct"].items())
            lines.append(f"  {row['mechanism']:<56} {errs}")
    emit(to_json(doc) if args.json else "\n".join(lines) + "\n")
    return EXIT_OK


def _measured(args: argparse.Namespace) -> int:
    from ..uncertainty import calibrate_from_measurements
    with progress_note("fitting the measurements"):
        fitted = calibrate_from_measurements(args.measurements, args.preset)
    doc = {"schema_version": 1, **fitted.to_dict(), "written": None}
    lines = [f"fitted to {len(fitted.points)} measurements of {args.measurements} "
             f"(rms residual {fitted.rms_residual_pct:.2f}%, {fitted.dof} degrees of freedom):"]
    for name in fitted.names:
        lines.append(f"  {name:<24} = {fitted.values[name]:,.4g} ± {fitted.std[name]:.2g} "
                     f"{_unit(name)}")
    for name, choice in fitted.mechanisms.items():
        lines.append(f"  {name:<24} = {choice} (the mechanism the measurements prefer)")
    if fitted.not_pinned:
        lines.append(f"  not determined by these points (left at the preset): "
                     f"{', '.join(fitted.not_pinned)}")
    if not args.dry_run:
        out = args.out or str(user_fitted_path(f"{args.preset}_measured"))
        fitted.write(out)
        doc["written"] = out
        lines.append(f"wrote {out}: a preset that extends {args.preset} with these values; "
                     f"use it with --preset {out} (its bands are narrower)")
    emit(to_json(doc) if args.json else "\n".join(lines) + "\n")
    return EXIT_OK
