"""What the C++ front-end tests share: one load (build) per kernel file and option set, one
run of each Python port, per test session.

The build cache on disk already makes a second load compile nothing; these caches also
skip re-hashing the sources and re-running the Python ports.
"""
from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np

from gpsimd_sim.cpp import load_cpp_kernel
from gpsimd_sim.records import Compute, Dma, ElementRun

ROOT = Path(__file__).resolve().parents[2]
CPP = ROOT / "kernels" / "cpp"
BAD = ROOT / "tests" / "cpp_kernels"
FAULTS = "tests/cpp_kernels/faults/faults.cpp"      # relative to ROOT, as a user types it

LIMITS = dict(tcm_pool_bytes=16384, buffer_size=None, max_steps=10_000_000,
              max_iterations=2_000_000_000, timeout_s=120)


@functools.lru_cache(maxsize=None)
def kernel(path: str, op: str | None = None, multicore: bool | None = None):
    """``load_cpp_kernel`` once per (path, op, multicore) in the session."""
    return load_cpp_kernel(path, op=op, multicore=multicore)


def run(k, args, cores: int = 1, **changes):
    return k.execute(list(args), cores=cores, **{**LIMITS, **changes})


def line_of(path: str, marker: str) -> int:
    """1-based line of the first line of ``path`` (relative to ROOT) containing ``marker``."""
    for number, text in enumerate((ROOT / path).read_text().splitlines(), 1):
        if marker in text:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def relu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.zeros((), dtype=x.dtype))


def tally(traces) -> Counter:
    """DMA transfers and bytes, element accesses, TCM loads/stores and ops over all cores."""
    t = Counter()
    for tr in traces:
        for r in tr.records:
            if type(r) is Dma:
                t["dma_transfers"] += 1
                t["dma_bytes"] += r.nbytes
            elif type(r) is ElementRun:
                t["element_accesses"] += r.reads + r.writes
                t["element_reads"] += r.reads
            elif type(r) is Compute:
                t["tcm_loads"] += r.tcm_loads
                t["tcm_stores"] += r.tcm_stores
                for k, v in r.ops.items():
                    t[k] += v
    return t


def _run_api():
    try:
        from gpsimd_sim.simulation import RunOptions, run as run_python
    except ImportError:  # before the simulate -> simulation rename
        from gpsimd_sim.simulate import RunOptions, run as run_python
    return RunOptions, run_python


@functools.lru_cache(maxsize=None)
def python_port(kernel_py: str, shape: tuple, cores: int | None):
    """The Python port's run on the seeded inputs: (result, its input arrays)."""
    RunOptions, run_python = _run_api()
    result = run_python(RunOptions(kernel=str(ROOT / kernel_py), shape=shape, cores=cores,
                                   timeout_s=None))
    args = getattr(result, "args", None)
    if not args:
        from gpsimd_sim.functional.inputs import make_inputs
        args = make_inputs(1, shape, np.float32, 0)
    return result, [np.asarray(a) for a in args]


def trn1():
    from gpsimd_sim.config import load_config
    return load_config("trn1")[0]


def simulated_ns(traces) -> float:
    from gpsimd_sim.timing.engine import simulate_timing
    return simulate_timing(traces, trn1()).simulated_ns
