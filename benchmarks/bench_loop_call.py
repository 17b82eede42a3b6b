"""Per-call cost of a @loop: ``CompiledLoop.run`` against a bare numba call.

A kernel calls its @loop once per TCM block, so the Python around the numba call is paid
thousands of times per run. This times, on a small ReLU block (16 float32 elements, so
the loop itself is negligible), the median per-call cost of

1. a bare ``numba.njit`` call of the same function (no counting, no checks),
2. ``CompiledLoop.run_counts`` (argument checks, counting variant, raw counts list),
3. ``CompiledLoop.run`` (the same plus the LoopResult),

all measured in the same process, and prints each with its ratio to the bare call.

    python benchmarks/bench_loop_call.py [--calls 20000] [--repeat 15] [--size 16]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpsimd_sim.loops import compile_loop  # noqa: E402


def relu_block(tcm_buffer, copy_size):
    for j in range(copy_size):
        tcm_buffer[j] = tcm_buffer[j] if tcm_buffer[j] > 0.0 else 0.0


def per_call(fn, calls: int, repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean seconds per call of ``fn()``."""
    fn()                                   # compile / warm up outside the timing
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args()

    import numba

    bare = numba.njit(cache=True, error_model="numpy", boundscheck=False, nogil=True)(relu_block)
    compiled = compile_loop(relu_block)
    buf = np.random.default_rng(0).standard_normal(args.size).astype(np.float32)
    n = args.size
    call_args = (buf, n)

    bare_s = per_call(lambda: bare(buf, n), args.calls, args.repeat)
    rows = [("numba call (bare)", bare_s),
            ("CompiledLoop.run_counts", per_call(lambda: compiled.run_counts(call_args),
                                                 args.calls, args.repeat)),
            ("CompiledLoop.run", per_call(lambda: compiled.run(buf, n), args.calls,
                                          args.repeat))]
    print(f"ReLU block of {n} float32, median of {args.repeat} x {args.calls} calls")
    for name, seconds in rows:
        print(f"  {name:<26} {seconds * 1e6:7.2f} us/call   {seconds / bare_s:5.1f} x bare")


if __name__ == "__main__":
    main()
