"""``@kernel`` marks the operator's entry point; ``@loop`` compiles a compute loop.

A ``@loop`` function is compiled by numba into a counting variant: the same computation on
the same arrays, plus a tally of the operations it performed. The tally becomes a
``Compute`` record (and an ``ElementRun`` for accessor arguments) that the timing stage turns
into cycles with the preset's cost table.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import KernelFault, SimulationLimit
from ..loops.language import INT64_MAX
from ..records import OP_CLASSES, Compute, ElementRun
from .. import wall_clock
from ..wall_clock import alarm_paused
from .runtime import _current
from .tcm import TcmBuffer
from .tensor import ElementAccessor, Tensor

# A loop's counts (loops/abi.py): one counter per operation class, then the element loads
# and stores of each parameter (slots N_OPS + 2k and N_OPS + 2k + 1), then the error slots.
N_OPS = len(OP_CLASSES)
_core = _current.get       # the running core's context, or None (runtime.current_or_none)
_getframe = sys._getframe


@dataclass(frozen=True)
class KernelSpec:
    """What ``custom_op.load(..., multicore=...)``, ``shape.cpp`` and the operator's
    reference say about a kernel."""
    reference: object = None     # a NumPy function of the kernel's arguments, a built-in
                                 # name ("relu"), or None: the output is not checked
    multicore: bool = False
    shape: object = None         # the shape function (shape.cpp's twin), or None
    inputs: object = None        # --shape -> each tensor input's default shape, or None
    rtol: float | None = None    # tolerances of the output check (None: by dtype)
    atol: float | None = None


def kernel(reference=None, multicore: bool = False, shape=None, inputs=None,
           rtol: float | None = None, atol: float | None = None):
    """Mark a kernel's entry point (``relu_forward``).

    ``reference``: a NumPy function taking the kernel's arguments (arrays for tensors,
    numbers for scalars) and returning the expected output, or a built-in name ("relu");
    without one the output runs unchecked, and every result says so. ``shape``: the
    output's shape function (receives a ``TensorSpec`` per tensor and the scalars; returns a
    ``TensorSpec``, a (shape, dtype) pair or a shape); without one the output has the first
    input's shape and dtype. ``inputs``: a function from ``--shape`` to each tensor input's
    default shape, for kernels whose inputs differ in shape. ``rtol``/``atol``: the output
    check's tolerances (default: by dtype, docs/api.md).
    """
    def mark(fn):
        fn.__gpsimd_kernel__ = KernelSpec(reference, bool(multicore), shape, inputs,
                                          rtol, atol)
        return fn
    return mark


def loop(fn):
    """Compile a compute loop over TCM buffers (or element accessors) with numba."""
    from ..loops import compile_loop  # numba is imported when it first runs

    compiled = compile_loop(fn)
    plans: dict = {}    # the argument types of a call -> how to pass and count them

    @functools.wraps(fn)
    def call(*args):
        ctx = _core()
        plan = plans.get(tuple(map(type, args)))
        if plan is None or ctx is None:
            return _slow_call(ctx, compiled, args, plans)
        # the hot path: every @loop call of a kernel, thousands of times (issue 14)
        arrays = list(args)
        core = ctx.core_id
        for k in plan.tcm:
            buf = args[k]
            if buf.freed or buf.core != core:
                return _slow_call(ctx, compiled, args, plans)
            arrays[k] = buf._array
        for k in plan.elem:
            arrays[k] = args[k]._array
        limit = ctx.limits.max_iterations - ctx.iterations
        if type(limit) is not int:   # a float limit from the Python API: numba takes an int
            limit = int(limit)
        budget = limit if 0 < limit <= INT64_MAX else (0 if limit <= 0 else INT64_MAX)
        direct = plan.direct
        if direct is not None:   # the arrays must have the types numba was first given
            for k, dtype, ndim in direct[1]:
                a = arrays[k]
                if (a.dtype is not dtype and a.dtype != dtype) or a.ndim != ndim:
                    direct = None
                    break
        wall_clock.native = True     # an alarm now is kept until the compiled code returns
        try:
            counts = (compiled.run_counts(arrays, budget) if direct is None
                      else compiled.run_direct(direct[0], arrays, budget))
        finally:
            wall_clock.native = False
        if wall_clock.expired:
            wall_clock.raise_expired()
        frame = _getframe(1)   # the kernel's line: usually the caller's (runtime.call_line)
        line = ctx.call_lines.get((id(frame.f_code), frame.f_lasti))
        if line is None:
            line = ctx.call_line(frame)
        if direct is None:
            _record(ctx, compiled, plan, args, arrays, counts, line)
            return
        # Counts met before on this line, by their bytes (error slots included, so a hit
        # never faulted): the record they made, without decoding them again (issue 14).
        key = (counts.tobytes(), line)
        seen = plan.seen
        if seen[0] is ctx:
            hit = seen[1].get(key)
            if hit is not None:
                ctx.iterations += hit[1]
                ctx.emit(hit[0])
                return
        else:
            seen = plan.seen = (ctx, {})
        counts = counts.tolist()
        record = _record(ctx, compiled, plan, args, arrays, counts, line)
        if record is not None and len(seen[1]) < _MEMO_RECORDS:
            seen[1][key] = (record, counts[0])

    call.compiled = compiled
    return call


class _Plan:
    """For one signature of argument types: which arguments are TCM buffers, element
    accessors and arrays (scalars pass as they are: ``CompiledLoop`` normalises them).

    Calls that did the same work share one immutable Compute record, found three ways,
    each per core (a core's records are its own):
    - ``seen``: on the direct path, the counts' bytes and the line -> the record (the hot
      path's lookup; safe because the direct path's guards fix every array's dtype, hence
      the record's width, and only calls that did not fault, through no accessor, enter);
    - ``last``: the previous call decoded by ``_record`` (any path), compared whole;
    - ``memo``: every record ``_record`` made, by its decoded counts, line and width.
    A hit in ``seen`` leaves ``last`` as it was: it only spares work, never changes a record.
    """

    __slots__ = ("tcm", "elem", "tcm_like", "arrays", "end", "last", "direct", "memo", "seen")

    def __init__(self, kinds: list[str]):
        self.tcm = tuple(k for k, kind in enumerate(kinds) if kind == "tcm")
        self.elem = tuple(k for k, kind in enumerate(kinds) if kind == "elem")
        self.tcm_like = tuple(k for k, kind in enumerate(kinds) if kind in ("tcm", "local"))
        self.arrays = tuple(k for k, kind in enumerate(kinds) if kind != "scalar")
        self.end = N_OPS + 2 * len(kinds)   # the first error slot of the counts
        self.last = None   # (counts, line, width, core context, the Compute record made)
        self.direct = None  # CompiledLoop.direct of the first call's arguments
        self.memo = None    # (core context, {(counts, line, width): Compute record})
        self.seen = (None, None)  # (core context, {(counts' bytes, line): (record, iterations)})


_MEMO_RECORDS = 4096   # different records kept per loop and core (the rest are made anew)


def _slow_call(ctx, compiled, args, plans):
    """The first call of a signature, a call outside a kernel, or one whose TCM buffer is
    freed or another core's: every argument checked as it comes, and the plan kept for the
    next call."""
    arrays, kinds = _loop_arguments(ctx, compiled, args)
    plan = _Plan(kinds)
    limit = ctx.limits.max_iterations - ctx.iterations if ctx else 10**12
    with alarm_paused():  # compiled code is bounded by its iteration budget instead
        counts = compiled.run_counts(arrays, max(limit, 0))
    _record(ctx, compiled, plan, args, arrays, counts, ctx.line() if ctx else 0)
    if ctx is not None:
        plan.direct = compiled.direct(arrays)
        plans[tuple(map(type, args))] = plan


def _record(ctx, compiled, plan, args, arrays, counts, line):
    """Raise the run's fault, if any; else (inside a kernel) record its counted work: a
    Compute record, and an ElementRun for accessor traffic. Returns the Compute record when
    later calls with the same counts on the same line may emit it again without these
    checks (None for a loop over element accessors)."""
    # the widest element the loop works on: it sets the SIMD lanes
    width = max([arrays[k].itemsize for k in plan.arrays]) if plan.arrays else 4
    last = plan.last
    if last is not None and last[0] == counts and last[1] == line and last[2] == width \
            and last[3] is ctx and not plan.elem:
        # the same work as the last call (which did not fault) again: the same immutable
        # record, which timing and reports then cost once (issue 14)
        ctx.iterations += counts[0]
        ctx.emit(last[4])
        return last[4]
    if counts[plan.end] != 0:         # an error kind: the loop faulted
        raise _loop_fault(ctx, compiled, compiled.result(counts, arrays).error, args)
    for k in plan.elem:
        if counts[N_OPS + 2 * k + 1] and args[k].tensor.const:
            raise _fault(ctx, f"@loop {compiled.name} wrote through the accessor of const "
                              f"input tensor {args[k].tensor.name} (C++: accessor() of a "
                              "const Tensor& is read-only)")
    if ctx is None:
        return None
    ctx.iterations += counts[0]
    # Calls that did the same work share one record (immutable): data-dependent loops
    # (a ReLU's loads depend on the signs) do a few dozen different amounts of work over
    # thousands of calls, and timing and reports cost each record once (issue 14).
    memo = plan.memo
    if memo is None or memo[0] is not ctx:
        memo = plan.memo = (ctx, {})
    key = (tuple(counts), line, width)
    record = memo[1].get(key)
    if record is None:
        tcm_loads = tcm_stores = 0
        for k in plan.tcm_like:
            tcm_loads += counts[N_OPS + 2 * k]
            tcm_stores += counts[N_OPS + 2 * k + 1]
        # a loop that reads device memory one accessor call at a time cannot use the SIMD
        # lanes: not vectorisable
        record = Compute(dict(zip(OP_CLASSES, counts)), tcm_loads, tcm_stores, width,
                         compiled.name, line, not plan.elem)
        if len(memo[1]) < _MEMO_RECORDS:
            memo[1][key] = record
    plan.last = (counts, line, width, ctx, record)
    ctx.emit(record)
    if plan.elem:
        reads = sum([counts[N_OPS + 2 * k] for k in plan.elem])
        writes = sum([counts[N_OPS + 2 * k + 1] for k in plan.elem])
        if reads or writes:
            ctx.emit(ElementRun(reads, writes, line))
        return None   # the same counts through another accessor may fault (a const one)
    return record


def _loop_arguments(ctx, compiled, args) -> tuple[list, list[str]]:
    """What numba receives for each argument, and what kind of memory each one is."""
    # refused as a Python call would be (the first call of each signature comes here)
    if len(args) != len(compiled.arg_names):
        raise _fault(ctx, f"@loop {compiled.name} takes {len(compiled.arg_names)} "
                     f"arguments ({', '.join(compiled.arg_names)}), {len(args)} given")
    arrays, kinds = [], []
    for name, a in zip(compiled.arg_names, args):
        if isinstance(a, TcmBuffer):
            arrays.append(a.live_array(f"@loop {compiled.name}") if ctx else a._array)
            kinds.append("tcm")
        elif isinstance(a, ElementAccessor):
            arrays.append(a._array)
            kinds.append("elem")
        elif isinstance(a, Tensor):
            raise _fault(ctx, f"@loop {compiled.name}: argument {name} is a tensor; pass "
                         f"{name}.accessor() or a TCM buffer")
        elif isinstance(a, np.ndarray):
            arrays.append(a)
            kinds.append("local")
        elif isinstance(a, (bool, np.bool_, int, np.integer, float, np.floating)):
            arrays.append(a)    # CompiledLoop makes it a plain Python scalar for numba
            kinds.append("scalar")
        else:
            raise _fault(ctx, f"@loop {compiled.name}: argument {name} has unsupported type "
                         f"{type(a).__name__}")
    return arrays, kinds


def _fault(ctx, what):
    return ctx.fault(what) if ctx else KernelFault(what)


def _loop_fault(ctx, compiled, error, args):
    core = f"core {ctx.core_id}: " if ctx else ""
    where = f"{ctx.display(error.filename) if ctx else error.filename}:{error.line}"
    if error.kind == "step_limit":
        return SimulationLimit(f"{where}: {core}@loop {compiled.name} exceeded its iteration "
                               "limit: the kernel does not finish")
    if error.kind == "div_zero":
        return KernelFault(f"{where}: {core}integer division by zero in @loop {compiled.name}")
    target = args[compiled.arg_names.index(error.arg_name)]
    if isinstance(target, ElementAccessor):
        what = f"tensor {target.tensor.name} (accessor {error.arg_name})"
    elif isinstance(target, TcmBuffer):
        what = f"TCM buffer {target.id} ({error.arg_name})"
    else:
        what = f"array {error.arg_name}"
    return KernelFault(f"{where}: {core}out-of-bounds access to {what} of shape "
                       f"{list(error.shape)} at index {list(error.index)}")
