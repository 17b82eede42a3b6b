"""One simulated kernel run: load, run for real on every core, replay on the timing model.

The one entry point the command line, the Python API (``gpsimd_sim.simulate``), the
workloads and sweeps share.
"""
from __future__ import annotations

import gc
import hashlib
import math
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .api.dtypes import dtype_name
from .api.runtime import Limits
from .background import Background
from .config.hardware import HardwareConfig
from .config.presets import config_to_dict, load_config
from .errors import ConfigError, SimulationLimit
from .frontend import load
from .functional.executor import FunctionalResult, run_functional
from .functional.inputs import TensorInput, build_args, check_array
from .functional.plan import ExecPlan
from .isolation import DEFAULT_MEMORY_BYTES, call_in_worker, run_in_child
from .loops.cache import warm as warm_numba
from .report import analysis
from .shipped import is_shipped
from .timing.engine import TimingResult, simulate_timing
from .timing.kinds import CATEGORIES, Tally
from .wall_clock import wall_limit

SCHEMA_VERSION = 2


@dataclass
class RunOptions:
    """Everything ``run`` accepts; the command line fills it from flags.

    ``kernel`` is a path (``.py`` or ``.cpp``) or a ``@kernel`` function. Tensor inputs take
    ``shape``/``dtype`` unless ``inputs`` (name -> ``TensorInput``) says otherwise;
    ``scalars`` give scalar arguments by name; ``args``, when given, are the arguments
    themselves (arrays and numbers, in order), as ``gpsimd_sim.simulate`` passes them.
    """
    kernel: object
    shape: tuple[int, ...] = (32, 4096)
    cores: int | None = None
    buffer_size: int | None = None
    preset: str = "trn1"
    overrides: list[str] = field(default_factory=list)
    seed: int = 0
    dtype: str = "float32"
    inputs: dict = field(default_factory=dict)
    scalars: dict = field(default_factory=dict)
    args: list | None = None
    op: str | None = None
    multicore: bool | None = None
    rtol: float | None = None
    atol: float | None = None
    max_steps: int = Limits.max_steps
    max_iterations: int = Limits.max_iterations
    max_cycles: float | None = None
    timeout_s: float | None = 600.0
    core_order: list[int] | None = None
    timeline: bool = False
    isolate: bool = True          # run a Python kernel's functional stage in a child process
    max_memory_bytes: int | None = DEFAULT_MEMORY_BYTES


@dataclass
class RunResult:
    """A finished run: both stages, the configuration, and the analysis of the two."""
    kernel: object
    options: RunOptions
    config: HardwareConfig
    provenance: dict
    cores: int
    functional: FunctionalResult
    timing: TimingResult
    wall_s: float
    args: list = field(default_factory=list)
    buffer_size: int | None = None
    arg_digests: list | None = None   # tensor_digest of each argument (None: a scalar)

    @property
    def simulated_ns(self) -> float:
        return self.timing.simulated_ns

    @property
    def output(self) -> np.ndarray:
        """The kernel's output, as it computed it."""
        return self.functional.output

    @property
    def correct(self) -> bool | None:
        """True/False as the output check found; None when the kernel has no reference."""
        return self.functional.correct

    def to_dict(self) -> dict:
        """The JSON result: figures, per-core breakdown, analysis and resolved configuration."""
        with _no_gc():
            return self._to_dict()

    def _to_dict(self) -> dict:
        f, t, cfg = self.functional, self.timing, self.config
        util = analysis.utilisation(t, cfg)
        bound = analysis.roofline(f.traces, cfg)
        per_core = []
        for tr, ct, active in zip(f.traces, t.cores, util["engine_active_pct"]):
            counts = analysis.tally(tr, cfg)
            per_core.append({
                "core": tr.core, "end_ns": ct.end_ns, "busy_pct": 100.0 * ct.end_ns / t.simulated_ns
                if t.simulated_ns else 0.0, "engine_active_pct": active,
                **{f"{k}_ns": ct.parts[k] for k in CATEGORIES},
                **counts,
                "loop_calls": ct.loop_calls, "tcm_peak_bytes": tr.tcm_peak_bytes,
                "tcm_malloc_failures": tr.malloc_failures,
            })
        totals = {k: sum(c[k] for c in per_core) for k in Tally.KEYS}
        o, k = self.options, self.kernel
        check = f.check
        return {
            "schema_version": SCHEMA_VERSION,
            "kernel": k.path,
            "kernel_function": k.name,
            "language": k.language,
            "multicore": k.multicore,
            "shape": list(o.shape),
            "dtype": o.dtype,
            "seed": o.seed,
            "inputs": describe_args(k.params, self.args, self.arg_digests),
            "buffer_size": self.buffer_size,
            "caveat": cfg.caveat or None,
            "simulated_ns": t.simulated_ns,
            "cycles": round(t.simulated_ns * cfg.core.clock_hz / 1e9),
            "correct": None if f.correct is None else bool(f.correct),
            "checked": check.checked,
            "max_abs_error": f.max_abs_error,
            "wrong_elements": f.wrong_elements,
            "check": check.to_dict(),
            "output_shape": list(f.output.shape),
            "output_dtype": dtype_name(f.output.dtype) or str(f.output.dtype),
            "expected_dtype": (dtype_name(f.expected.dtype) or str(f.expected.dtype))
            if f.expected is not None else None,
            "printed": f.printed or None,
            "cores": self.cores,
            **totals,
            "tcm_peak_bytes": max(tr.tcm_peak_bytes for tr in f.traces),
            "tcm_malloc_failures": sum(tr.malloc_failures for tr in f.traces),
            "bound_ns": bound["bound_ns"],
            "bound_resource": bound["bound_resource"],
            "bounds_ns": bound["bounds_ns"],
            "simulated_over_bound": t.simulated_ns / bound["bound_ns"] if bound["bound_ns"] else None,
            "fixed_cost_floor_ns": analysis.fixed_cost_floor(f.traces, cfg),
            "limiter": analysis.limiter(t, f.traces, cfg, k.multicore),
            "dma_system": t.dma.describe(cfg, self.cores) if t.dma else None,
            **{k2: v for k2, v in util.items() if k2 not in ("engine_active_pct",
                                                              "compute_active_pct",
                                                              "running_pct")},
            "per_core": per_core,
            "sim_events": t.events,
            "wall_s": self.wall_s,
            "config": config_to_dict(cfg, self.provenance),
        }


def tensor_digest(a: np.ndarray) -> str:
    """A tensor's content hash (blake2b, 8 bytes, hex): equal contents, equal hashes."""
    return hashlib.blake2b(np.ascontiguousarray(a).view(np.uint8).reshape(-1),
                           digest_size=8).hexdigest()


def arg_digests(args: list) -> list[str | None]:
    """``tensor_digest`` of each array argument, None for a scalar: hashed once per run
    (a GiB of input takes a second), for the functional cache and the result."""
    return [tensor_digest(a) if isinstance(a, np.ndarray) else None for a in args]


def describe_args(params, args, digests: list | None = None) -> list[dict]:
    """Each argument as the result records it: a tensor's shape, dtype and content hash
    (equal inputs, equal hashes, however they were given); a scalar's value."""
    out = []
    for k, (p, a) in enumerate(zip(params, args)):
        if p.is_tensor:
            digest = digests[k] if digests is not None else tensor_digest(a)
            out.append({"name": p.name, "kind": "tensor", "shape": list(a.shape),
                        "dtype": dtype_name(a.dtype), "blake2b": digest})
        else:
            out.append({"name": p.name, "kind": p.kind, "value": a})
    return out


def resolve_cores(kernel, cores: int | None, config: HardwareConfig) -> int:
    if not kernel.multicore:
        if cores not in (None, 1):
            raise ConfigError(f"--cores {cores}: {kernel.path} is a single-core kernel "
                              "(multicore=False); it runs on 1 core")
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
    return shape


_FUNCTIONAL_CACHE: OrderedDict = OrderedDict()
_FUNCTIONAL_CACHE_SIZE = 32


def in_child(kernel, options: RunOptions) -> bool:
    """Whether the functional stage runs in a forked child (a user's Python kernel)."""
    return (options.isolate and kernel.language == "python"
            and not (kernel.module is not None and is_shipped(kernel.filename)))


def _functional(kernel, args, plan: ExecPlan, rtol, atol, options: RunOptions
                ) -> FunctionalResult:
    """The functional stage, for a user's Python kernel in a child process
    (``isolation.py``): whatever the kernel does (exit, hang, take all memory, print), the
    simulator lives on. A C++ kernel already runs in a process of its own; the project's own
    kernels (kernels/, shipped with the package) run here, sparing the transfer of their
    records (about 4 µs a record: seconds for the largest runs)."""
    if not in_child(kernel, options):
        return run_functional(kernel, args, plan, rtol, atol)
    # numba imported once here, not once per child: later children inherit it by fork
    import numba  # noqa: F401, PLC0415
    # the child's own SIGALRM limit names the kernel's line; the parent's is the backstop
    backstop = None if plan.timeout_s is None else plan.timeout_s + min(10.0, 1.0 + plan.timeout_s)
    # a kernel file runs in the long-lived worker; a function of this process in a fork
    call = call_in_worker if kernel.module is not None else run_in_child
    result, printed = call(run_functional, kernel, args, plan, rtol, atol, what=kernel.path,
                           timeout_s=backstop, memory_bytes=options.max_memory_bytes)
    if printed:
        result.printed = (result.printed or "") + printed
    return result


def _functional_cached(kernel, args, plan: ExecPlan, rtol, atol, options,
                       digests: Background) -> FunctionalResult:
    """The functional stage, reused when nothing it depends on changed.

    What a kernel does does not depend on timing parameters, so calibration and sweeps over
    clock, bandwidth or costs replay the same records instead of recomputing them.
    ``digests``: ``arg_digests(args)`` under way; with nothing cached yet (a single run)
    the stage runs while the inputs are hashed.
    """
    def key():
        inputs = tuple((a.shape, a.dtype.str, d) if d is not None
                       else (type(a).__name__, repr(a)) for a, d in zip(args, digests.result()))
        return (getattr(kernel, "filename", kernel.path), getattr(kernel, "source_hash", ""),
                id(kernel.fn) if hasattr(kernel, "fn") else kernel.name, kernel.name, plan,
                rtol, atol, inputs)

    if _FUNCTIONAL_CACHE:
        found = key()
        hit = _FUNCTIONAL_CACHE.get(found)
        if hit is not None:
            _FUNCTIONAL_CACHE.move_to_end(found)
            return hit
    result = _functional(kernel, args, plan, rtol, atol, options)
    _FUNCTIONAL_CACHE[key()] = result
    if len(_FUNCTIONAL_CACHE) > _FUNCTIONAL_CACHE_SIZE:
        _FUNCTIONAL_CACHE.popitem(last=False)
    return result


# Set by the console command (``cli.entry``), whose process ends with the command: what a
# run leaves alive is then frozen (``gc.freeze``) as the collector comes back on, not
# walked by its next collections (0.08 s after a run of 400,000 records). Commands that
# run many simulations (sweep, mlp, calibrate, validate) freeze after each: what a run
# leaves alive and later drops is freed by reference counting (records, results and
# traces hold no cycles), and the cyclic garbage frozen was measured not to grow from run
# to run. In a process that lives on (a notebook, a test) it stays False: there an object
# frozen and later dropped in a cycle would never be collected.
freeze_after_run = False


@contextmanager
def _no_gc():
    """The cyclic garbage collector paused: a large run makes millions of acyclic objects
    (records, tuples), and every full collection would walk them all, and numba's, again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if freeze_after_run:
                gc.freeze()
            gc.enable()


def simulate_loaded(kernel, args: list, config: HardwareConfig, provenance: dict,
                    options: RunOptions) -> RunResult:
    """Run an already-loaded kernel on given arguments (workloads and sweeps reuse this)."""
    with _no_gc():
        return _simulate_loaded(kernel, args, config, provenance, options)


def _simulate_loaded(kernel, args, config, provenance, options) -> RunResult:
    start = time.perf_counter()
    cores = resolve_cores(kernel, options.cores, config)
    buffer_size = options.buffer_size if options.buffer_size is not None else \
        kernel.default_buffer_size
    kernel_entry_check(kernel, options.buffer_size)
    plan = ExecPlan.for_config(
        config, cores, buffer_size=options.buffer_size,
        limits=Limits(options.max_steps, options.max_iterations), timeout_s=options.timeout_s,
        core_order=tuple(options.core_order) if options.core_order else None)
    # hashed beside the functional stage (inputs are read-only to the kernel), unless that
    # stage forks its child: no thread may be alive then
    digests = Background(arg_digests, args, thread=not in_child(kernel, options))
    try:
        functional = _functional_cached(kernel, args, plan, options.rtol, options.atol,
                                        options, digests)
    finally:
        digests.wait()   # no thread outlives the stage (a later run may fork)
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
                     time.perf_counter() - start, list(args), buffer_size, digests.result())


def kernel_entry_check(kernel, buffer_size: int | None) -> None:
    """Refuse a --buffer-size the kernel cannot take, before anything runs."""
    if buffer_size is not None and hasattr(kernel, "entry"):
        kernel.entry(buffer_size)


def arguments(kernel, options: RunOptions) -> list:
    """The kernel's arguments: given (``options.args``) or made from shapes and seeds."""
    where = kernel.path
    if options.args is not None:
        params = kernel.params
        given = list(options.args)
        # trailing scalars with defaults may be left out, as in a call
        while len(given) < len(params) and params[len(given)].has_default \
                and not params[len(given)].is_tensor:
            given.append(params[len(given)].default)
        options.args = given
        if len(options.args) != len(params):
            from .functional.signature import describe
            raise ConfigError(f"{where}: kernel {kernel.name} takes {len(params)} arguments "
                              f"({describe(params)}), {len(options.args)} given")
        return [check_array(a, f"{where}: argument {p.name}") if p.is_tensor
                else p.coerce(a, where) for a, p in zip(options.args, params)]
    shape_rule = getattr(getattr(kernel, "spec", None), "inputs", None)
    return build_args(kernel.params, where, check_shape(options.shape), options.dtype,
                      {k: v if isinstance(v, TensorInput) else TensorInput(array=v)
                       for k, v in options.inputs.items()},
                      options.scalars, options.seed, shape_rule)


_WARM_ELEMENTS = 1 << 22   # drawn in about 0.06 s: less would not hide numba's set-up


def _elements(shape) -> int:
    """Elements of a shape as given (0 for one ``check_shape`` will refuse)."""
    try:
        return math.prod(int(s) for s in shape)
    except (TypeError, ValueError):
        return 0


def _has_loops(kernel) -> bool:
    """Whether a Python kernel's namespace holds a ``@loop`` (only then does it need numba)."""
    names = vars(kernel.module) if kernel.module is not None else \
        getattr(kernel.fn, "__globals__", {})
    return any(callable(v) and hasattr(v, "compiled") for v in list(names.values()))


def run(options: RunOptions) -> RunResult:
    """Load the kernel, make its arguments, and simulate."""
    start = time.perf_counter()
    config, provenance = load_config(options.preset, options.overrides)
    label = options.kernel if isinstance(options.kernel, str) else getattr(
        options.kernel, "__name__", "kernel")
    with wall_limit(options.timeout_s, label):  # a file may loop at import time
        kernel = load(options.kernel, options.op, options.multicore)
    # Large inputs are drawn while numba is set up on a second thread (NumPy's generator
    # lets go of the GIL); done before the run, which may fork. A failure here is left for
    # the kernel's first @loop call to report.
    warm = (Background(warm_numba) if kernel.language == "python" and options.args is None
            and _elements(options.shape) >= _WARM_ELEMENTS and _has_loops(kernel) else None)
    try:
        args = arguments(kernel, options)
    finally:
        if warm is not None:
            warm.wait()
    result = simulate_loaded(kernel, args, config, provenance, options)
    result.wall_s = time.perf_counter() - start
    return result


def simulate(kernel, *args, cores: int | None = None, buffer_size: int | None = None,
             preset: str = "trn1", overrides: dict | list | None = None, op: str | None = None,
             rtol: float | None = None, atol: float | None = None, timeline: bool = False,
             timeout_s: float | None = 600.0) -> RunResult:
    """Simulate ``kernel`` on your own arguments (NumPy arrays and Python numbers, in the
    kernel's parameter order), like NKI's ``nki.simulate(kernel)(arrays)``.

    ``kernel`` is a ``@kernel`` function, a kernel file path, or a ``.cpp`` path. Returns a
    ``RunResult``: ``.output``, ``.simulated_ns``, ``.correct``, ``.to_dict()`` (the document
    ``run --json`` prints). Bad input raises ``gpsimd_sim.errors.SimError`` subclasses with
    the command line's one-line messages.
    """
    if isinstance(overrides, dict):
        overrides = [f"{k}={v}" for k, v in overrides.items()]
    first = next((a for a in args if isinstance(a, np.ndarray)), None)
    options = RunOptions(kernel=kernel, shape=tuple(first.shape) if first is not None else (1,),
                         dtype=(dtype_name(first.dtype) or "float32") if first is not None
                         else "float32", cores=cores, buffer_size=buffer_size,
                         preset=preset, overrides=list(overrides or []), args=list(args),
                         op=op, rtol=rtol, atol=atol, timeline=timeline, timeout_s=timeout_s)
    return run(options)
