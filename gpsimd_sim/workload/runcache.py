"""The kernel runs of the documented points, kept across processes.

``validate``, ``calibrate`` and the ensemble simulate the same shipped kernels on the same
activations in every process; the functional stage of those runs (the kernel executed for
real, its records) is kept in the user cache folder (``$GPSIMD_SIM_CACHE_DIR/workload/runs``)
keyed by the simulator's own source, the kernel file, its arguments and everything the
functional stage reads from the configuration. Only the timing stage runs again. Kernels
outside this checkout's kernels/ folder always run (a user's file may depend on anything).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time

import numpy as np

from ..cachefiles import code_digest, file_digest, workload_dir
from ..shipped import is_shipped as shipped
from ..simulation import RunResult, resolve_cores, simulate_loaded
from ..timing.engine import simulate_timing

VERSION = 1


def _key(kernel, args, config, options) -> str | None:
    path = getattr(kernel, "path", "")
    if not path or not str(path).endswith(".py") or not shipped(path):
        return None
    if options.max_cycles is not None or options.core_order or options.rtol is not None \
            or options.atol is not None:
        return None
    h = hashlib.sha256()
    h.update(repr((VERSION, code_digest(), file_digest(kernel.filename if hasattr(
        kernel, "filename") else path), kernel.name, resolve_cores(kernel, options.cores, config),
        repr(config.tcm), options.buffer_size, options.max_steps, options.max_iterations)
    ).encode())
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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(result.functional, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            pass
        return result
    cores = resolve_cores(kernel, options.cores, config)
    buffer_size = options.buffer_size if options.buffer_size is not None else \
        kernel.default_buffer_size
    timing = simulate_timing(functional.traces, config, record_timeline=options.timeline)
    return RunResult(kernel, options, config, provenance, cores, functional, timing,
                     time.perf_counter() - start, list(args), buffer_size)
