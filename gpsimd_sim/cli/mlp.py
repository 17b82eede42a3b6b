"""``python -m gpsimd_sim mlp --kernel KERNEL``: the tutorial MLP's throughput with that ReLU."""
from __future__ import annotations

import argparse
from dataclasses import replace

from ..config.presets import load_config
from ..errors import EXIT_OK, EXIT_WRONG_OUTPUT
from ..report.trace import model_trace
from .deliver import add_output_options, deliver, guard, warn
from ..workload.run import format_model, load_model, run_model
from .common import add_hardware_options, add_kernel_options, positive_int

HELP = "estimate the tutorial MLP's inference throughput with a ReLU kernel of your choice"


def add_parser(sub) -> None:
    p = sub.add_parser("mlp", help=HELP, description=HELP)
    p.add_argument("--kernel", default="kernels/relu_tcm.py",
                   help="the custom operator's kernel file, .py or .cpp (default "
                        "kernels/relu_tcm.py, the tutorial's TCM kernel)")
    p.add_argument("--model", default="models/mlp.py", help="model file (default models/mlp.py)")
    p.add_argument("--batch", type=positive_int, default=None,
                   help="batch size (default: the model's protocol, 32)")
    add_kernel_options(p)
    add_hardware_options(p)
    add_output_options(p)
    p.set_defaults(handler=main)


def simulate(args: argparse.Namespace):
    config, provenance = load_config(args.preset, args.overrides)
    model, protocol = load_model(args.model)
    if args.batch is not None:
        protocol = replace(protocol, batch=args.batch)
    return run_model(model, protocol, args.kernel, config, provenance, cores=args.cores,
                     buffer_size=args.buffer_size, seed=args.seed,
                     timeline=bool(getattr(args, "trace_wanted", False)))


def main(args: argparse.Namespace) -> int:
    files = {"kernel file": args.kernel, "model file": args.model}
    if args.preset.endswith(".toml") or "/" in args.preset:
        files["preset"] = args.preset
    guard(args, files)
    args.trace_wanted = bool(args.trace or args.out)
    result = simulate(args)
    d = result.to_dict()
    deliver(args, d, format_model(d), lambda: model_trace(result))
    if not d.get("checked", True):
        warn(f"{d['kernel']}: the model's output was not checked (the kernel has no "
             "reference)")
    if d["config"].get("caveat"):
        warn(f"preset {d['config']['preset']}: {d['config']['caveat']}")
    return EXIT_WRONG_OUTPUT if d["correct"] is False else EXIT_OK
