"""One simulated kernel run: load, run for real on every core, replay on the timing model.

This is the one entry point the command line, the MLP model and sweeps share.
"""
from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .api.runtime import Limits
from .api.tensor import DTYPES
from .config.hardware import HardwareConfig
from .config.presets import config_to_dict, load_config
from .errors import ConfigError, SimulationLimit
from .functional.executor import FunctionalResult, run_functional
from .wall_clock import wall_limit
from .functional.inputs import make_inputs
from .functional.loader import LoadedKernel, load_kernel
from .report import analysis
from .timing.engine import TimingResult, simulate_timing

SCHEMA_VERSION = 1


@dataclass
class RunOptions:
    """Everything ``run`` accepts; the command line fills it from flags."""
    kernel: str
    shape: tuple[int, ...] = (32, 4096)
    cores: int | None = None
    buffer_size: int | None = None
    preset: str = "trn1"
    overrides: list[str] = field(default_factory=list)
    seed: int = 0
    dtype: str = "float32"
    max_steps: int = Limits.max_steps
    max_iterations: int = Limits.max_iterations
    max_cycles: float | None = None
    timeout_s: float | None = 600.0
    core_order: list[int] | None = None
    timeline: bool = False


@dataclass
class RunResult:
    """A finished run: both stages, the configuration, and the analysis of the two."""
    kernel: LoadedKernel
    options: RunOptions
    config: HardwareConfig
    provenance: dict
    cores: int
    functional: FunctionalResult
    timing: TimingResult
    wall_s: float

    @property
    def simulated_ns(self) -> float:
        return self.timing.simulated_ns

    def to_dict(self) -> dict:
        """The JSON result: figures, per-core breakdown, analysis and resolved configuration."""
        f, t, cfg = self.functional, self.timing, self.config
        util = analysis.utilisation(t, cfg)
        bound = analysis.roofline(f.traces, cfg)
        per_core = []
        for tr, ct, active in zip(f.traces, t.cores, util["engine_active_pct"]):
            per_core.append({
                "core": tr.core, "end_ns": ct.end_ns, "busy_pct": 100.0 * ct.end_ns / t.simulated_ns
                if t.simulated_ns else 0.0, "engine_active_pct": active,
                "compute_ns": ct.compute_ns, "element_ns": ct.element_ns,
                "dma_fixed_ns": ct.dma_fixed_ns, "dma_wait_ns": ct.dma_wait_ns,
                "dma_transfer_ns": ct.dma_transfer_ns, "fill_ns": ct.fill_ns,
                **{k: v for k, v in analysis.tally(tr.records).items()
                   if k in ("dma_transfers", "dma_bytes", "fills", "element_accesses")},
                "loop_calls": ct.loop_calls, "tcm_peak_bytes": tr.tcm_peak_bytes,
                "tcm_malloc_failures": tr.malloc_failures,
            })
        totals = {k: sum(c[k] for c in per_core)
                  for k in ("dma_transfers", "dma_bytes", "fills", "element_accesses")}
        o = self.options
        return {
            "schema_version": SCHEMA_VERSION,
            "kernel": self.kernel.path,
            "kernel_function": self.kernel.name,
            "multicore": self.kernel.spec.multicore,
            "shape": list(o.shape),
            "dtype": o.dtype,
            "seed": o.seed,
            "buffer_size": getattr(self.kernel.module, "BUFFER_SIZE", None),
            "simulated_ns": t.simulated_ns,
            "cycles": t.simulated_ns * cfg.core.clock_hz / 1e9,
            "correct": bool(f.correct),
            "max_abs_error": f.max_abs_error,
            "wrong_elements": f.wrong_elements,
            "output_dtype": str(f.output.dtype),
            "expected_dtype": str(f.expected.dtype),
            "cores": self.cores,
            **totals,
            "tcm_peak_bytes": max(tr.tcm_peak_bytes for tr in f.traces),
            "tcm_malloc_failures": sum(tr.malloc_failures for tr in f.traces),
            "bound_ns": bound["bound_ns"],
            "bound_resource": bound["bound_resource"],
            "bounds_ns": bound["bounds_ns"],
            "simulated_over_bound": t.simulated_ns / bound["bound_ns"] if bound["bound_ns"] else None,
            "fixed_cost_floor_ns": analysis.fixed_cost_floor(f.traces, cfg),
            "limiter": analysis.limiter(t, f.traces, cfg, self.kernel.spec.multicore),
            **{k: v for k, v in util.items() if k not in ("engine_active_pct", "compute_active_pct",
                                                           "running_pct")},
            "per_core": per_core,
            "sim_events": t.events,
            "wall_s": self.wall_s,
            "config": config_to_dict(cfg, self.provenance),
        }


def resolve_cores(kernel: LoadedKernel, cores: int | None, config: HardwareConfig) -> int:
    if not kernel.spec.multicore:
        if cores not in (None, 1):
            raise ConfigError(f"--cores {cores}: {kernel.path} is a single-core kernel "
                              "(@kernel(multicore=False)); it runs on 1 core")
        return 1
    if cores is None:
        return config.core.cores
    if not 1 <= cores <= config.core.cores:
        raise ConfigError(f"--cores {cores}: must be between 1 and {config.core.cores} "
                          f"(the {config.name} preset's GPSIMD cores)")
    return cores


def check_shape(shape) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    if not shape or any(s <= 0 for s in shape):
        raise ConfigError(f"--shape {'x'.join(map(str, shape))}: every dimension must be positive")
    if int(np.prod(shape, dtype=np.int64)) > 1 << 28:
        raise ConfigError(f"--shape {'x'.join(map(str, shape))}: more than 2^28 elements")
    return shape


_FUNCTIONAL_CACHE: OrderedDict = OrderedDict()
_FUNCTIONAL_CACHE_SIZE = 32


def _functional_cached(kernel, inputs, cores, tcm_pool_bytes, limits, options):
    """The functional stage, reused when nothing it depends on changed.

    What a kernel does does not depend on timing parameters, so calibration and sweeps over
    clock, bandwidth or costs replay the same records instead of recomputing them.
    """
    digest = hashlib.blake2b(digest_size=16)
    for x in inputs:
        digest.update(str((x.shape, x.dtype.str)).encode())
        digest.update(np.ascontiguousarray(x).data)
    key = (kernel.filename, id(kernel.module), getattr(kernel.module, "BUFFER_SIZE", None),
           cores, tcm_pool_bytes, limits, tuple(options.core_order or ()), digest.hexdigest())
    hit = _FUNCTIONAL_CACHE.get(key)
    if hit is not None:
        _FUNCTIONAL_CACHE.move_to_end(key)
        return hit
    result = run_functional(kernel, inputs, cores, tcm_pool_bytes, limits, options.core_order,
                            options.timeout_s)
    _FUNCTIONAL_CACHE[key] = result
    if len(_FUNCTIONAL_CACHE) > _FUNCTIONAL_CACHE_SIZE:
        _FUNCTIONAL_CACHE.popitem(last=False)
    return result


def simulate_loaded(kernel: LoadedKernel, inputs: list[np.ndarray], config: HardwareConfig,
                    provenance: dict, options: RunOptions) -> RunResult:
    """Run an already-loaded kernel on given inputs (the MLP and sweeps reuse this)."""
    start = time.perf_counter()
    cores = resolve_cores(kernel, options.cores, config)
    kernel.set_buffer_size(options.buffer_size)
    limits = Limits(options.max_steps, options.max_iterations)
    functional = _functional_cached(kernel, inputs, cores, config.tcm.tcm_pool_bytes, limits,
                                    options)
    timing = simulate_timing(functional.traces, config, record_timeline=options.timeline)
    if not np.isfinite(timing.simulated_ns):
        raise SimulationLimit(f"{kernel.path}: the simulated time is not finite "
                              "(check the preset's clock and bandwidths)")
    if options.max_cycles is not None:
        cycles = timing.simulated_ns * config.core.clock_hz / 1e9
        if cycles > options.max_cycles:
            raise SimulationLimit(f"{kernel.path}: simulated {cycles:.0f} cycles, more than "
                                  f"--max-cycles {options.max_cycles:g}")
    return RunResult(kernel, options, config, provenance, cores, functional, timing,
                     time.perf_counter() - start)


def run(options: RunOptions) -> RunResult:
    """Load the kernel, make seeded inputs, and simulate."""
    start = time.perf_counter()
    if options.dtype not in DTYPES:
        raise ConfigError(f"--dtype {options.dtype}: expected one of {', '.join(DTYPES)}")
    shape = check_shape(options.shape)
    config, provenance = load_config(options.preset, options.overrides)
    with wall_limit(options.timeout_s, options.kernel):  # a file may loop at import time
        kernel = load_kernel(options.kernel)
    nargs = kernel.fn.__code__.co_argcount
    inputs = make_inputs(nargs, shape, DTYPES[options.dtype], options.seed)
    result = simulate_loaded(kernel, inputs, config, provenance, options)
    result.wall_s = time.perf_counter() - start
    return result
