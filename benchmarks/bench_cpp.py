"""Speed of the C++ front end (issue 11).

1. Warm run: wall time of `python -m gpsimd_sim run kernels/cpp/neuron-tcm/relu.cpp` on
   [32,4096] with the build cache warm, against the Python port `kernels/relu_tcm.py` measured
   in the same session (median of N each, interleaved). Target: at most 1.5x the Python port.
2. Cold run: the same C++ run with an empty build cache (compiling the runtime, the shape
   library and the kernel). Target: under 5 s.

If the command line does not take C++ kernels yet, the C++ runs use the same steps without
it (load, run, timing) in a fresh interpreter, and say so.

    python benchmarks/bench_cpp.py [--repeat 5] [--kernel kernels/cpp/neuron-tcm/relu.cpp]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STANDALONE = """
import sys, numpy as np
from gpsimd_sim.cpp import load_cpp_kernel
from gpsimd_sim.config import load_config
from gpsimd_sim.timing.engine import simulate_timing
k = load_cpp_kernel(sys.argv[1])
x = np.random.default_rng(0).standard_normal((32, 4096)).astype(np.float32)
r = k.execute([x], cores=8 if k.multicore else 1, tcm_pool_bytes=16384, buffer_size=None,
              max_steps=10**7, max_iterations=2 * 10**9, timeout_s=600)
print(simulate_timing(r.traces, load_config("trn1")[0]).simulated_ns)
"""


def cli(kernel: str) -> list[str]:
    return [sys.executable, "-m", "gpsimd_sim", "run", kernel, "--shape", "32x4096", "--json"]


def timed(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def cpp_command(kernel: str) -> tuple[list[str], str]:
    """The command line if it takes C++ kernels, else the standalone steps."""
    probe = subprocess.run(cli(kernel), cwd=ROOT, capture_output=True, text=True)
    if probe.returncode == 0:
        return cli(kernel), "python -m gpsimd_sim run"
    return [sys.executable, "-c", STANDALONE, kernel], "load + execute + timing (no CLI yet)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--kernel", default="kernels/cpp/neuron-tcm/relu.cpp")
    ap.add_argument("--python-port", default="kernels/relu_tcm.py")
    args = ap.parse_args()

    cmd, how = cpp_command(args.kernel)            # also warms the build cache
    timed(cli(args.python_port))                     # and the numba cache
    cpp, py = [], []
    for _ in range(args.repeat):
        cpp.append(timed(cmd))
        py.append(timed(cli(args.python_port)))
    warm_cpp, warm_py = statistics.median(cpp), statistics.median(py)

    cold = []
    for _ in range(max(1, args.repeat // 2)):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "GPSIMD_SIM_CACHE_DIR": cache}
            cold.append(timed(cmd, env))
    cold_cpp = statistics.median(cold)

    print(f"C++ runs via: {how}")
    print(f"| what | median wall time | target |")
    print(f"|---|---:|---|")
    print(f"| warm C++ run of {args.kernel} [32,4096] | {warm_cpp:.2f} s | <= 1.5x Python |")
    print(f"| the Python port {args.python_port}, same session | {warm_py:.2f} s | |")
    print(f"| ratio C++ / Python | {warm_cpp / warm_py:.2f}x | <= 1.5x |")
    print(f"| cold C++ run (empty build cache: runtime, shape library, kernel compiled) "
          f"| {cold_cpp:.2f} s | < 5 s |")


if __name__ == "__main__":
    main()
