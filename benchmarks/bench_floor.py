"""How far `run` is from its floor, at every size (issue "Fast at every size").

The floor of a run, measured here on this machine, in this run:
  start-up   a Python process that imports numpy, simpy and numba, calls one cached numba
             function and runs 512 SimPy events (the least any run of a Python kernel does);
  events     the events the run needs (one per DMA transfer, per compute block, per run of
             element accesses, per stream buffer, per tensor op) at plain SimPy's cost per
             event, measured in this process;
  arithmetic the kernel's own element work in numba (a ReLU over every element).
Each figure is the median of --repeat runs; `run` is timed as a whole process
(`python -m gpsimd_sim run ... --no-band --json`), with its peak memory (the simulator's
process and its functional worker, summed) per element. The package is byte-compiled
first, as an installed copy is (``common.compile_package``).

    python benchmarks/bench_floor.py [--repeat 3] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, compile_package

CASES = [  # (label, kernel, shape, extra options, floor target)
    ("relu_tcm, buffer 64, 2048x4096", "kernels/relu_tcm.py", "2048x4096",
     ["--buffer-size", "64"], 2.0),
    ("relu_multicore 8 cores, buffer 64, 2048x4096", "kernels/relu_multicore.py",
     "2048x4096", ["--buffer-size", "64", "--cores", "8"], 2.0),
    ("relu_elementwise, 8192x4096", "kernels/relu_elementwise.py", "8192x4096", [], 2.0),
    ("relu_tcm, buffer 1024, 8192x4096", "kernels/relu_tcm.py", "8192x4096",
     ["--buffer-size", "1024"], 2.0),
    ("relu_tcm, 32x4096", "kernels/relu_tcm.py", "32x4096", [], 1.0),
]
QUICK = [("relu_tcm, buffer 64, 256x4096",) + CASES[0][1:2] + ("256x4096",) + CASES[0][3:],
         CASES[4]]

FLOOR_SCRIPT = """
import numpy, simpy, numba
@numba.njit(cache=True)
def f(x):
    return x + 1
f(1)
env = simpy.Environment()
def p(env):
    for _ in range(512):
        yield env.timeout(1)
env.process(p(env))
env.run()
"""


WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
sys.stdout.write(proc.stdout)
sys.stderr.write(f"@@ {wall} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} "
                 f"{proc.returncode}\\n" + proc.stderr)
"""


def timed(cmd: list[str], env=None) -> tuple[float, int, str]:
    """Wall seconds, the peak RSS in bytes (the largest of the process and the children it
    waited for: the simulator and its functional worker), and the standard output."""
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], cwd=ROOT,
                          capture_output=True, text=True, env=env)
    line = next(l for l in proc.stderr.splitlines() if l.startswith("@@ "))
    _, wall, rss, code = line.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return float(wall), int(rss) * 1024, proc.stdout


def simpy_ns_per_event(n: int = 200_000) -> float:
    import simpy
    env = simpy.Environment()

    def p(env):
        for _ in range(n):
            yield env.timeout(1)
    env.process(p(env))
    start = time.perf_counter()
    env.run()
    return (time.perf_counter() - start) / n * 1e9


def numba_relu_ns_per_element(n: int) -> float:
    import numba
    import numpy as np

    @numba.njit(cache=False)
    def relu(x):
        for i in range(x.size):
            x[i] = x[i] if x[i] > 0 else 0.0
    x = np.random.default_rng(0).standard_normal(min(n, 1 << 24)).astype(np.float32)
    relu(x[:16])
    start = time.perf_counter()
    relu(x)
    return (time.perf_counter() - start) / x.size * 1e9


def events_needed(kernel: str, shape: str, extra: list[str]) -> tuple[int, int]:
    """(events the run needs, elements) from the run's own JSON result."""
    _, _, out = timed([sys.executable, "-m", "gpsimd_sim", "run", kernel, "--shape", shape,
                       *extra, "--no-band", "--json"])
    d = json.loads(out)
    elements = 1
    for s in d["inputs"][0]["shape"]:
        elements *= s
    needed = d["dma_transfers_total"]
    for c in d["per_core"]:
        needed += c["loop_calls"]
    element_runs = 0 if not d["element_accesses"] else 1
    return needed + element_runs + d.get("tensor_ops", 0), elements


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    args = ap.parse_args()
    env = dict(os.environ)
    compile_package()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(FLOOR_SCRIPT)
        floor_script = fh.name
    timed([sys.executable, floor_script])   # warm numba's cache
    startup = statistics.median(timed([sys.executable, floor_script])[0]
                                for _ in range(args.repeat))
    per_event = statistics.median(simpy_ns_per_event() for _ in range(3))
    rows = []
    for label, kernel, shape, extra, target in (QUICK if args.quick else CASES):
        needed, elements = events_needed(kernel, shape, extra)
        arith = numba_relu_ns_per_element(elements) * elements * 1e-9
        floor = startup + needed * per_event * 1e-9 + arith
        runs = [timed([sys.executable, "-m", "gpsimd_sim", "run", kernel, "--shape", shape,
                       *extra, "--no-band", "--json"], env) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        rows.append({"case": label, "wall_s": wall, "floor_s": floor, "ratio": wall / floor,
                     "target_ratio": target, "events_needed": needed,
                     "bytes_per_element": rss / elements, "elements": elements})
        print(f"{label:<48} run {wall:7.2f} s  floor {floor:6.2f} s  ratio {wall / floor:5.2f}x "
              f"(target {target:g}x)  peak RSS {rss / elements:7.1f} B/element", flush=True)
    print(json.dumps({"startup_floor_s": startup, "simpy_ns_per_event": per_event,
                      "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
