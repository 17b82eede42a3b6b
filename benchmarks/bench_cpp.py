"""Speed of the C++ front end (issue 11).

1. Warm run: wall time of `python -m gpsimd_sim run kernels/cpp/neuron-tcm/relu.cpp` on
   [32,4096] with the build cache warm, against the Python port `kernels/relu_tcm.py` measured
   in the same session (median of N each, interleaved). Target: at most 1.5x the Python port.
2. Cold run: the same C++ run with an empty build cache (compiling the runtime, the shape
   library and the kernel). Target: under 5 s.

    python benchmarks/bench_cpp.py [--repeat 5] [--kernel kernels/cpp/neuron-tcm/relu.cpp]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile

from common import compile_package, simulator, wall_once


def cli(kernel: str) -> list[str]:
    return simulator("run", kernel, "--shape", "32x4096", "--json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--kernel", default="kernels/cpp/neuron-tcm/relu.cpp")
    ap.add_argument("--python-port", default="kernels/relu_tcm.py")
    args = ap.parse_args()
    compile_package()   # as an installed copy is

    cmd = cli(args.kernel)
    wall_once(cmd)                                   # warms the build cache
    wall_once(cli(args.python_port))                 # and the numba cache
    cpp, py = [], []
    for _ in range(args.repeat):
        cpp.append(wall_once(cmd))
        py.append(wall_once(cli(args.python_port)))
    warm_cpp, warm_py = statistics.median(cpp), statistics.median(py)

    cold = []
    for _ in range(max(1, args.repeat // 2)):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "GPSIMD_SIM_CACHE_DIR": cache}
            cold.append(wall_once(cmd, env))
    cold_cpp = statistics.median(cold)

    print("| what | median wall time | target |")
    print("|---|---:|---|")
    print(f"| warm C++ run of {args.kernel} [32,4096] | {warm_cpp:.2f} s | <= 1.5x Python |")
    print(f"| the Python port {args.python_port}, same session | {warm_py:.2f} s | |")
    print(f"| ratio C++ / Python | {warm_cpp / warm_py:.2f}x | <= 1.5x |")
    print(f"| cold C++ run (empty build cache: runtime, shape library, kernel compiled) "
          f"| {cold_cpp:.2f} s | < 5 s |")


if __name__ == "__main__":
    main()
