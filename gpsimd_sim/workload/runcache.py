"""The kernel runs of the documented points, kept across processes.

``validate``, ``calibrate`` and the ensemble simulate the same shipped kernels on the same
activations in every process; the functional stage of those runs (the kernel executed for
real, its records) is kept in the user cache folder (``$GPSIMD_SIM_CACHE_DIR/workload/runs``)
keyed by the simulator's own source, the kernel (a Python file's text; a C++ kernel's build,
with its compiler, and its shape function's), its arguments and everything the functional
stage reads from the configuration. Only the timing stage runs again. Kernels outside this
checkout's kernels/ folder always run (a user's file may depend on anything).
"""
from __future__ import annotations

import hashlib
import pickle
import time

import numpy as np

from ..cachefiles import code_digest, workload_dir, write_atomic
from ..frontend import CPP_SUFFIXES
from ..shipped import is_shipped as shipped
from ..simulation import RunResult, resolve_cores, simulate_loaded
from ..timing.engine import simulate_timing

VERSION = 2   # 2: keyed on the kernel's source_hash; C++ kernels kept too


def _key(kernel, args, config, options) -> str | None:
    path = getattr(kernel, "path", "")
    if not path or not str(path).endswith((".py", *CPP_SUFFIXES)) or not shipped(path):
        return None
    if options.max_cycles is not None or options.core_order or options.rtol is not None \
            or options.atol is not None:
        return None
    h = hashlib.sha256()
    # source_hash: a Python kernel's text; a C++ kernel's build (its source, the compiler
    # and flags, our runtime and headers) and its shape function's
    h.update(repr((VERSION, code_digest(), kernel.source_hash, kernel.name,
                   resolve_cores(kernel, options.cores, config), repr(config.tcm),
                   options.buffer_size, options.max_steps, options.max_iterations)).encode())
    for a in args:
        if isinstance(a, np.ndarray):
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(np.ascontiguousarray(a).view(np.uint8).reshape(-1).data)
        else:
            h.update(repr(a).encode())
    return h.hexdigest()[:32]


def kernel_run(kernel, args: list, config, provenance, options) -> RunResult:
    """``simulate_loaded``, with the functional stage of shipped kernels kept on disk."""
    key = _key(kernel, args, config, options)
    if key is None:
        return simulate_loaded(kernel, args, config, provenance, options)
    path = workload_dir() / "runs" / f"{key}.pkl"
    start = time.perf_counter()
    functional = None
    try:
        with open(path, "rb") as fh:
            functional = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        functional = None
    if functional is None:
        result = simulate_loaded(kernel, args, config, provenance, options)
        write_atomic(path, lambda fh: pickle.dump(result.functional, fh,
                                                  protocol=pickle.HIGHEST_PROTOCOL),
                     binary=True)
        return result
    cores = resolve_cores(kernel, options.cores, config)
    buffer_size = options.buffer_size if options.buffer_size is not None else \
        kernel.default_buffer_size
    timing = simulate_timing(functional.traces, config, record_timeline=options.timeline)
    return RunResult(kernel, options, config, provenance, cores, functional, timing,
                     time.perf_counter() - start, list(args), buffer_size)
