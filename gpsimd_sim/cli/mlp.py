"""``python -m gpsimd_sim mlp``: a whole model's throughput with a kernel of your choice as its
custom operator (the tutorial's inference MLP, or with --train its training MLP)."""
from __future__ import annotations

import argparse
from dataclasses import replace

from ..config.presets import load_config
from ..errors import EXIT_OK, EXIT_WRONG_OUTPUT
from ..report.trace import model_trace
from .common import (add_band_options, add_hardware_options, add_kernel_options,
                     positive_int, preset_file)
from .deliver import add_output_options, deliver, guard, progress_note, warn

HELP = "estimate a whole model's throughput (iterations/s) with your kernel as its custom operator"


def add_parser(sub) -> None:
    p = sub.add_parser("mlp", help=HELP, description=HELP)
    p.add_argument("--kernel", default=None,
                   help="the custom operator's kernel file, .py or .cpp (default "
                        "kernels/relu_tcm.py, the tutorial's TCM kernel; with --train the "
                        "training sample's element-wise relu_forward)")
    p.add_argument("--train", action="store_true",
                   help="the training tutorial's MLP (784-120-84-10, SGD): forward and "
                        "backward custom operators, gradient matmuls and the update")
    p.add_argument("--backward-kernel", default=None,
                   help="with --train: the backward kernel (default kernels/relu_backward.py)")
    p.add_argument("--model", default=None,
                   help="model file (default models/mlp.py; with --train models/mlp_train.py)")
    p.add_argument("--batch", type=positive_int, default=None,
                   help="batch size (default: the model's protocol, 32)")
    add_kernel_options(p)
    add_hardware_options(p)
    add_output_options(p)
    add_band_options(p)
    p.set_defaults(handler=main)


def simulate(args: argparse.Namespace):
    """The model run the options describe (ModelResult or TrainingResult)."""
    config, provenance = load_config(args.preset, args.overrides)
    if args.train:
        from ..workload.training import run_training
        return run_training(config, provenance, model_path=args.model or "models/mlp_train.py",
                            forward_kernel=args.kernel, backward_kernel=args.backward_kernel,
                            cores=args.cores, buffer_size=args.buffer_size, batch=args.batch,
                            seed=args.seed)
    from ..workload.run import load_model, run_model
    model, protocol = load_model(args.model or "models/mlp.py")
    if args.batch is not None:
        protocol = replace(protocol, batch=args.batch)
    return run_model(model, protocol, args.kernel or "kernels/relu_tcm.py", config, provenance,
                     cores=args.cores, buffer_size=args.buffer_size, seed=args.seed,
                     timeline=bool(args.trace or args.out))


def main(args: argparse.Namespace) -> int:
    files = {"kernel file": args.kernel, "model file": args.model,
             "backward kernel": args.backward_kernel, "preset": preset_file(args.preset)}
    guard(args, {k: v for k, v in files.items() if v})
    result = simulate(args)
    d = result.to_dict()
    band = None
    if args.band:
        from ..uncertainty import model_band
        from ..workload.measurements import documented_point
        documented = None
        if not args.train:
            m = documented_point(args.preset, args.kernel or "kernels/relu_tcm.py",
                                 d.get("cores"), args.buffer_size)
            documented = m.iter_per_s if m else None
        with progress_note("building the error-band ensemble (once per preset)"):
            band = model_band(result, members=args.band_members, seed=args.band_seed,
                              preset=args.preset, documented=documented)
        d.update(band)
        if documented is not None:
            d["documented_iter_per_s"] = documented
    if args.train:
        from ..workload.training import format_training
        text = format_training(d, band)
    else:
        from ..workload.run import format_model
        text = format_model(d, band)
    deliver(args, d, text, lambda: model_trace(result))
    if not d.get("checked", True):
        warn(f"{d['kernel']}: the model's output was not checked (a kernel has no reference)")
    if d["config"].get("caveat"):
        warn(f"preset {d['config']['preset']}: {d['config']['caveat']}")
    return EXIT_WRONG_OUTPUT if d["correct"] is False else EXIT_OK
