"""``python -m gpsimd_sim mlp --kernel KERNEL``: the tutorial MLP's throughput with that ReLU."""
from __future__ import annotations

import argparse
from dataclasses import replace

from ..config.presets import load_config
from ..report.output import to_json, write_atomic
from ..report.trace import model_trace, write_trace
from ..workload.run import format_model, load_model, run_model
from .common import add_hardware_options, add_kernel_options, positive_int

HELP = "estimate the tutorial MLP's inference throughput with a ReLU kernel of your choice"


def add_parser(sub) -> None:
    p = sub.add_parser("mlp", help=HELP, description=HELP)
    p.add_argument("--kernel", default="kernels/relu_tcm.py", help="ReLU kernel file")
    p.add_argument("--model", default="models/mlp.py", help="model file (default models/mlp.py)")
    p.add_argument("--batch", type=positive_int, default=None,
                   help="batch size (default: the model's protocol, 32)")
    add_kernel_options(p)
    add_hardware_options(p)
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    p.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE (atomically)")
    p.add_argument("--trace", metavar="FILE.json",
                   help="write one iteration's timeline (Chrome trace-event JSON for "
                        "ui.perfetto.dev or chrome://tracing; see docs/tracing.md)")
    p.set_defaults(handler=main)


def simulate(args: argparse.Namespace):
    config, provenance = load_config(args.preset, args.overrides)
    model, protocol = load_model(args.model)
    if args.batch is not None:
        protocol = replace(protocol, batch=args.batch)
    return run_model(model, protocol, args.kernel, config, provenance, cores=args.cores,
                     buffer_size=args.buffer_size, seed=args.seed,
                     timeline=bool(getattr(args, "trace", None)))


def main(args: argparse.Namespace) -> int:
    result = simulate(args)
    d = result.to_dict()
    if args.out:
        write_atomic(args.out, to_json(d))
    if args.trace:
        write_trace(args.trace, model_trace(result))
    print(to_json(d), end="") if args.json else print(format_model(d))
    return 0 if d["correct"] else 1
