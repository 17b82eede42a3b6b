"""``python -m gpsimd_sim validate``: documented throughputs beside the simulated ones, what
each documented point tests, and (by default) each point's error band."""
from __future__ import annotations

import argparse

from ..errors import EXIT_OK, EXIT_WRONG_OUTPUT
from ..report.output import OutputGuard, to_json, write_atomic
from .common import add_band_options, positive_float
from .deliver import emit, progress_note

HELP = "compare the simulated MLP throughput with the documented trn1 numbers"


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help=HELP, description=HELP)
    p.add_argument("--preset", default="trn1",
                   help="preset whose documented measurements to check (default trn1; "
                        "documented numbers exist for trn1 only)")
    p.add_argument("--threshold", type=positive_float, default=5.0,
                   help="without bands: largest prediction error in %% before exiting 1 "
                        "(default 5); with bands the documented value must lie in its band")
    p.add_argument("--json", action="store_true",
                   help="print the validate document (schema_version, rows, leave-one-out, "
                        "bands) as JSON")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown to FILE")
    p.add_argument("--no-cpp", dest="cpp", action="store_false",
                   help="leave out the C++ rows (each documented point run again with the "
                        "tutorial's unedited C++ source, kernels/cpp/; needs g++)")
    add_band_options(p)
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from ..workload.calibration import validation_report
    from ..workload.validation_text import validation_markdown, validation_text
    guard = OutputGuard()
    guard.output("--markdown", args.markdown)
    doc = validation_report(args.preset, threshold_pct=args.threshold)
    if args.cpp:
        from ..workload.cpp_twins import add_cpp_rows
        with progress_note("running the tutorial's C++ kernels"):
            add_cpp_rows(doc)
    if args.band:
        from ..uncertainty.bands import add_validate_bands
        with progress_note("building the error-band ensemble (once per preset)"):
            add_validate_bands(doc, members=args.band_members, seed=args.band_seed)
    if args.markdown:
        write_atomic(args.markdown, validation_markdown(doc, args.preset, args.threshold))
    emit(to_json(doc) if args.json else validation_text(doc) + "\n")
    return EXIT_OK if doc["passed"] else EXIT_WRONG_OUTPUT
