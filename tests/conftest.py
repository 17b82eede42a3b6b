"""Shared test set-up: hypothesis profiles, the shipped kernels, and the law suite's strategies.

Profiles (pick one with the environment variable HYPOTHESIS_PROFILE; docs/testing.md):

- ``ci`` (the default, and what .ci/run sets): few examples, a fixed seed and no example
  database, so every CI run tries the same inputs and the law suite stays well under a minute.
- ``dev``: hypothesis' usual 100 examples, random each run, failures remembered in the
  local example database.
- ``deep``: thousands of examples for a long local hunt before a release.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from gpsimd_sim.api.dtypes import DTYPES
from gpsimd_sim.simulation import RunOptions

ROOT = Path(__file__).resolve().parent.parent

# Simulator runs take milliseconds but their first call compiles with numba, so no deadline.
settings.register_profile("ci", max_examples=50, deadline=None, derandomize=True,
                          database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("deep", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A user's own `calibrate` fit (~/.config/gpsimd_sim) must not change what the tests see:
# they read fits from an empty folder of their own (subprocesses inherit it).
import tempfile  # noqa: E402
os.environ["GPSIMD_SIM_CONFIG_DIR"] = tempfile.mkdtemp(prefix="gpsimd_sim_test_config_")


KERNELS = {  # short name -> absolute path
    "elementwise": str(ROOT / "kernels" / "relu_elementwise.py"),
    "tcm": str(ROOT / "kernels" / "relu_tcm.py"),
    "multicore": str(ROOT / "kernels" / "relu_multicore.py"),
    "published": str(ROOT / "tests" / "kernels" / "relu_multicore_published.py"),
    # relu_tcm.py with buffer and output in the input's dtype (the shipped kernels are
    # float32 only, like the C++)
    "any_dtype": str(ROOT / "tests" / "kernels" / "relu_tcm_any_dtype.py"),
}


# -- strategies shared by the law files ------------------------------------------------------
# (imported with ``from conftest import ...``: pytest puts tests/ on sys.path for rootless
# test folders, and hypothesis needs strategies at decoration time, where fixtures cannot reach)

# bfloat16 is left out until @loop functions take it (numba has no bfloat16)
LOOP_DTYPES = [d for d in DTYPES if d != "bfloat16"]
MAX_NUMEL = 2048     # small shapes: each example runs in milliseconds
MAX_TRANSFERS = 64   # per core and direction; keeps tiny buffers on big shapes cheap
POOL_BYTES = 16384   # trn1's tcm_malloc pool
POOL_FLOATS = POOL_BYTES // 4


@dataclass(frozen=True)
class Workload:
    """One kernel run: which shipped kernel, on what input, with which buffer and cores."""
    kernel: str                 # a key of KERNELS
    shape: tuple[int, ...]
    dtype: str = "float32"
    buffer_size: int | None = None
    cores: int | None = None
    seed: int = 0

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def options(self, **changes) -> RunOptions:
        fields = dict(kernel=KERNELS[self.kernel], shape=self.shape, dtype=self.dtype,
                      buffer_size=self.buffer_size, cores=self.cores, seed=self.seed,
                      timeout_s=None)
        fields.update(changes)
        return RunOptions(**fields)

    def partitions(self) -> list[tuple[int, int]]:
        """(offset, count) of each core's share, as the fixed multicore kernel splits it."""
        cores = self.cores or 1
        base = self.numel // cores
        return [(base * c, base if c < cores - 1 else self.numel - base * (cores - 1))
                for c in range(cores)]


@st.composite
def shapes(draw, ndims=(1, 2, 3), max_numel: int = MAX_NUMEL) -> tuple[int, ...]:
    """Shapes of 1 to 3 positive dimensions with at most ``max_numel`` elements."""
    ndim = draw(st.sampled_from(ndims))
    shape = []
    room = max_numel
    for _ in range(ndim):
        d = draw(st.integers(1, max(1, min(room, 256))))
        shape.append(d)
        room //= d
    return tuple(shape)


@st.composite
def workloads(draw, kernels=("elementwise", "tcm", "multicore"),
              max_numel: int = MAX_NUMEL) -> Workload:
    """Any valid run of a kernel: shape, buffer size, cores, and dtype where it has a choice
    (the shipped kernels are float32 only; ``any_dtype`` takes every dtype)."""
    kernel = draw(st.sampled_from(kernels))
    seed = draw(st.integers(0, 2**32 - 1))
    if kernel == "elementwise":  # accessor(2): two dimensions
        return Workload(kernel, draw(shapes((2,), max_numel)), seed=seed)
    shape = draw(shapes(max_numel=max_numel))
    cores = draw(st.integers(1, 8)) if kernel == "multicore" else None
    dtype = draw(st.sampled_from(LOOP_DTYPES)) if kernel == "any_dtype" else "float32"
    w = Workload(kernel, shape, cores=cores, seed=seed)
    largest = max(count for _, count in w.partitions())
    room = POOL_BYTES // np.dtype(DTYPES[dtype]).itemsize
    fewest = min(max(1, -(-largest // MAX_TRANSFERS)), room)
    # half the time no bigger than a core's share, so most runs take several transfers
    buffer = draw(st.integers(fewest, max(fewest, min(largest, room)))
                  | st.integers(fewest, room))
    return Workload(kernel, shape, dtype, buffer_size=buffer, cores=cores, seed=seed)


# Preset parameters a user might try, within sane ranges (keys are bare field names).
PARAMETERS = {
    "clock_hz": st.floats(1e8, 5e9),
    "simd_lanes_32bit": st.integers(1, 64),
    "loop_vectorised": st.booleans(),
    "issue_width_ops": st.integers(1, 8),
    "iteration_cycles": st.floats(0, 8),
    "compare_cycles": st.floats(0, 8),
    "select_cycles": st.floats(0, 8),
    "store_cycles": st.floats(0, 8),
    "loop_call_cycles": st.floats(0, 500),
    "tcm_latency_cycles": st.floats(0, 16),
    "dma_queues": st.integers(1, 32),
    "dma_fixed_ns": st.floats(0, 5000),
    "dma_bytes_per_ns": st.floats(0.5, 500),
    "dma_fixed_holds_queue": st.booleans(),
    "hbm_bytes_per_ns": st.floats(1, 2000),
    "element_access_ns": st.floats(0, 1000),
}


def parameters() -> st.SearchStrategy[dict]:
    """A random subset of preset parameters with random sane values."""
    return st.fixed_dictionaries({}, optional=PARAMETERS)


def as_overrides(values: dict) -> list[str]:
    """``--set`` strings for ``values`` (repr keeps floats exact)."""
    return [f"{k}={v!r}" for k, v in values.items()]
