"""``python -m gpsimd_sim run KERNEL``: simulate one kernel and report."""
from __future__ import annotations

import argparse

from ..errors import EXIT_OK, EXIT_WRONG_OUTPUT, ConfigError
from ..functional.inputs import parse_input, parse_scalar
from ..report.summary import format_run
from ..report.trace import run_trace
from ..simulation import RunOptions, run
from ..sweep.executors import default_jobs
from .common import (add_band_options, add_hardware_options, add_kernel_options,
                     non_negative_float, parse_shape, positive_float, positive_int, preset_file,
                     timeout_seconds)
from .deliver import add_output_options, deliver, guard, progress_note, warn

HELP = "simulate one kernel file on the modelled GPSIMD engine"


# processes a large run's band may be timed in: each child touches every record (copy on
# write), so memory grows with them
BAND_JOBS = 4


def add_parser(sub) -> None:
    p = sub.add_parser("run", help=HELP, description=HELP)
    p.add_argument("kernel", help="kernel file, e.g. kernels/relu_tcm.py")
    p.add_argument("--shape", type=parse_shape, default=(32, 4096),
                   help="shape of every tensor input without its own --input, e.g. 32x4096 "
                        "(the default)")
    p.add_argument("--dtype", default="float32",
                   help="dtype of those inputs: float32 (default), bfloat16, float16, int32, "
                        "int16, int8, uint8")
    p.add_argument("--input", dest="inputs", action="append", default=[],
                   metavar="NAME=SPEC",
                   help="one tensor input by its parameter name: NAME=32x4096, "
                        "NAME=32x4096:float16 or NAME=file.npy (repeatable)")
    p.add_argument("--scalar", dest="scalars", action="append", default=[],
                   metavar="NAME=VALUE",
                   help="a scalar argument (double or int64_t) by name, e.g. --scalar lo=-1.5 "
                        "(repeatable; a scalar with a default may be left out)")
    p.add_argument("--op", default=None,
                   help="for a C++ kernel: which registered function to run, e.g. "
                        "relu_backward (default: the library's first)")
    p.add_argument("--rtol", type=non_negative_float, default=None,
                   help="relative tolerance of the output check (default: by dtype, "
                        "docs/api.md)")
    p.add_argument("--atol", type=non_negative_float, default=None,
                   help="absolute tolerance of the output check (default: by dtype)")
    add_kernel_options(p)
    add_hardware_options(p)
    add_output_options(p)
    add_band_options(p)
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="run a Python kernel in the simulator's own process, not in its "
                        "worker process: faster for runs of millions of records, but a "
                        "kernel that exits, hangs in native code or crashes then takes the "
                        "simulator with it")
    p.add_argument("--max-steps", type=positive_int, default=RunOptions.max_steps,
                   help="API calls and interpreted element accesses per core before the "
                        "kernel is declared non-terminating (default %(default)s)")
    p.add_argument("--max-iterations", type=positive_int, default=RunOptions.max_iterations,
                   help="compiled-loop iterations (C++: basic blocks) per core before the "
                        "kernel is declared non-terminating (default %(default)s)")
    p.add_argument("--max-cycles", type=positive_float, default=None,
                   help="fail if the simulated run exceeds this many cycles")
    p.add_argument("--timeout", type=timeout_seconds, default=RunOptions.timeout_s,
                   help="wall-time limit of the functional stage in seconds (default 600)")
    p.set_defaults(handler=main)


def options_from(args: argparse.Namespace) -> RunOptions:
    inputs = dict(parse_input(text) for text in args.inputs)
    scalars = dict(parse_scalar(text) for text in args.scalars)
    for what, given, parsed in (("--input", args.inputs, inputs),
                                ("--scalar", args.scalars, scalars)):
        if len(parsed) != len(given):
            raise ConfigError(f"{what}: a name is given twice")
    return RunOptions(kernel=args.kernel, shape=args.shape, cores=args.cores,
                      inputs=inputs, scalars=scalars, op=args.op, rtol=args.rtol,
                      atol=args.atol, isolate=args.isolate,
                      buffer_size=args.buffer_size, preset=args.preset,
                      overrides=list(args.overrides), seed=args.seed, dtype=args.dtype,
                      max_steps=args.max_steps, max_iterations=args.max_iterations,
                      max_cycles=args.max_cycles, timeout_s=args.timeout,
                      timeline=bool(args.trace or args.out))


def inputs_of(args: argparse.Namespace) -> dict:
    """Every file the command reads: no output may replace one of them."""
    files = {"kernel file": args.kernel, "preset": preset_file(args.preset)}
    for text in args.inputs:
        name, _, spec = text.partition("=")
        if spec.endswith(".npy"):
            files[f"input {name}"] = spec
    return files


def main(args: argparse.Namespace) -> int:
    options = options_from(args)
    guard(args, inputs_of(args))
    result = run(options)
    d = result.to_dict()
    if args.band:
        from ..uncertainty import run_band
        with progress_note("building the error-band ensemble (once per preset)"):
            d.update(run_band(result, members=args.band_members, seed=args.band_seed,
                              jobs=min(default_jobs(), BAND_JOBS)))
    deliver(args, d, format_run(d), lambda: run_trace(result))
    if d["correct"] is None:
        warn(f"{d['kernel']}: the output was not checked (the kernel has no reference)")
    if d.get("caveat"):
        warn(f"preset {result.config.name}: {d['caveat']}")
    return EXIT_WRONG_OUTPUT if d["correct"] is False else EXIT_OK
