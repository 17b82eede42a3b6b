"""Per-call cost of the kernel API in a TCM kernel's loop: what a block costs in Python.

A TCM kernel's loop makes three API calls per block (``tensor_to_tcm``, its ``@loop``,
``tcm_to_tensor``), each checked, done and recorded by the simulator. This times, inside
one simulated core (as the functional stage runs it), the CPU time per block of

1. an empty Python loop of the same length (the kernel's own loop),
2. each call alone (the transfer in, the @loop with new data each time, the transfer out),
3. the three together, as relu_tcm makes them,

against a bare ``numba.njit`` call of the same ReLU block, all in the same process. Each
figure is the least of ``--repeat`` rounds of CPU time (``time.process_time``: the machine
is shared; the least round is the one least disturbed).

    python benchmarks/bench_api_calls.py [--blocks 5000] [--repeat 15] [--size 64]
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpsimd_sim.api import float32, runtime, sizeof, tcm_malloc  # noqa: E402
from gpsimd_sim.api.tensor import Tensor  # noqa: E402
from gpsimd_sim.config import load_config  # noqa: E402
from gpsimd_sim.functional.plan import ExecPlan  # noqa: E402

# A kernel file of loop bodies: the API finds its caller's line in the kernel file.
KERNEL = '''
from gpsimd_sim.api import loop


@loop
def relu_block(tcm_buffer, copy_size):
    for j in range(copy_size):
        tcm_buffer[j] = tcm_buffer[j] if tcm_buffer[j] > 0.0 else 0.0


def empty(acc_in, acc_out, buf, n, size):
    for i in range(0, n, size):
        pass


def transfer_in(acc_in, acc_out, buf, n, size):
    for i in range(0, n, size):
        acc_in.tensor_to_tcm(buf, i, size)


def loop_call(acc_in, acc_out, buf, n, size):
    for i in range(0, n, size):
        acc_in.tensor_to_tcm(buf, i, size)
        relu_block(buf, size)


def transfer_out(acc_in, acc_out, buf, n, size):
    for i in range(0, n, size):
        acc_out.tcm_to_tensor(buf, i, size)


def block(acc_in, acc_out, buf, n, size):
    for i in range(0, n, size):
        acc_in.tensor_to_tcm(buf, i, size)
        relu_block(buf, size)
        acc_out.tcm_to_tensor(buf, i, size)
'''


def load_bodies(path: Path):
    spec = importlib.util.spec_from_file_location("bench_api_kernel", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_block(body, path: Path, x: np.ndarray, size: int, plan: ExecPlan) -> float:
    """CPU seconds per block of ``body`` over ``x`` on a fresh simulated core."""
    dst = Tensor(np.zeros_like(x), "dst")
    ctx = runtime.CoreContext(0, 1, False, plan.tcm_pool_bytes, str(path), dst, plan.limits,
                              str(path), tcm_align=plan.tcm_align,
                              stream_buffer_bytes=plan.stream_buffer_bytes,
                              fast_streams=plan.fast_streams)
    runtime.activate(ctx)
    try:
        buf = tcm_malloc(sizeof(float32) * size, float32)
        acc_in, acc_out = Tensor(x, "t_in", const=True).tcm_accessor(), dst.tcm_accessor()
        start = time.process_time()
        body(acc_in, acc_out, buf, x.size, size)
        return (time.process_time() - start) / (x.size // size)
    finally:
        runtime.activate(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--size", type=int, default=64, help="elements per block")
    args = parser.parse_args()

    import numba

    config, _ = load_config("trn1")
    plan = ExecPlan.for_config(config, 1, buffer_size=args.size)
    x = np.random.default_rng(0).standard_normal(args.blocks * args.size).astype(np.float32)
    gc.disable()   # as during a run (simulation._no_gc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kernel.py"
        path.write_text(KERNEL)
        bodies = load_bodies(path)
        bare = numba.njit(cache=False)(bodies.relu_block.__wrapped__)
        buf = x[:args.size].copy()
        bare(buf, args.size)
        rounds = []
        for _ in range(args.repeat):
            start = time.process_time()
            for _ in range(args.blocks):
                bare(buf, args.size)
            rounds.append((time.process_time() - start) / args.blocks)
        bare_s = min(rounds)
        rows = []
        for name in ("empty", "transfer_in", "transfer_out", "loop_call", "block"):
            body = getattr(bodies, name)
            per_block(body, path, x, args.size, plan)    # compiles, warms
            rows.append((name, min(per_block(body, path, x, args.size, plan)
                                   for _ in range(args.repeat))))
    costs = dict(rows)
    print(f"blocks of {args.size} float32, least of {args.repeat} rounds of {args.blocks} "
          "blocks, CPU time")
    print(f"  {'bare numba call of the block':<40} {bare_s * 1e6:6.2f} us")
    labels = {"empty": "empty Python loop", "transfer_in": "tensor_to_tcm",
              "transfer_out": "tcm_to_tensor", "loop_call": "tensor_to_tcm + @loop",
              "block": "tensor_to_tcm + @loop + tcm_to_tensor"}
    for name, seconds in rows:
        print(f"  {labels[name]:<40} {seconds * 1e6:6.2f} us   {seconds / bare_s:5.1f} x bare")
    loop_alone = costs["loop_call"] - costs["transfer_in"]
    print(f"  {'the @loop call alone (by difference)':<40} {loop_alone * 1e6:6.2f} us   "
          f"{loop_alone / bare_s:5.1f} x bare")


if __name__ == "__main__":
    main()
