"""``CompiledLoop``: a @loop function, its counting variants, and running them.

A loop is transformed on construction (unsupported source fails at decoration time) and
jitted on its first run. Each run checks the arguments against how the source uses each
parameter, picks the variant for the arguments' float16 parameters and the current values
of the frozen globals, and turns the counts array the variant fills into a LoopResult.

Repeated calls with arguments of the same types skip the checks: what the checks decide
depends only on each argument's type (and an array's dtype and ndim), so it is kept per
such signature in a ``_Plan``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import abi
from .abi import ERR_NONE, ERROR_KINDS, N_OPS, OP_KINDS
from .cache import build, build_lock
from .expressions import indices
from .language import INT64_MAX, MAX_DIMS, LoopCompileError, classify, lookup
from .lowering import Generated, ParamUse, generate
from .source import parse

_ndarray = np.ndarray


@dataclass(frozen=True)
class LoopError:
    """A run-time fault found inside the compiled loop (memory was not touched after it)."""
    kind: str                # "out_of_bounds", "step_limit" or "div_zero"
    arg_name: str            # parameter whose subscript faulted ("" for the other kinds)
    index: tuple[int, ...]   # the offending index (all dims as written), () for the others
    shape: tuple[int, ...]   # shape of that array (() for the other kinds)
    filename: str            # the user's source file
    line: int                # absolute line number in the user's source file


class LoopResult(NamedTuple):
    """What one run of a compiled loop did: operation counts and per-parameter accesses."""
    ops: dict[str, int]          # one entry per OP_KINDS
    loads: tuple[int, ...]       # per positional parameter: element loads (0 for scalars)
    stores: tuple[int, ...]      # per positional parameter: element stores
    error: LoopError | None


@dataclass
class _Variant:
    """One generated and jitted specialisation (float16 parameters, frozen constants)."""
    dispatcher: object
    path: Path
    line_map: dict[int, int]


@dataclass
class _Plan:
    """What the argument checks decided for one signature of argument types."""
    half: tuple[int, ...]              # float16 array parameters (passed as uint16 views)
    convert: tuple | None              # (position, function) pairs, None when args pass as is
    variant: _Variant | None = None    # kept here when the loop freezes no globals

    def arguments(self, args: tuple) -> list:
        out = list(args)
        for k, fn in self.convert:
            out[k] = fn(out[k])
        return out


def _signature(args: tuple) -> tuple:
    """What the argument checks depend on: each argument's type, and for an array its dtype
    (``num`` is cheaper to hash than the dtype) and ndim."""
    return tuple([(a.dtype.num, a.ndim) if type(a) is _ndarray else type(a) for a in args])


_INT64 = np.dtype(np.int64)


def _half_view(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16)


def _numba_error_type():
    # Evaluated only when the dispatcher raises (an except clause's expression is lazy),
    # so numba's modules are not looked up on every call.
    from numba.core.errors import NumbaError
    return NumbaError


class CompiledLoop:
    """A ``@loop`` function with its counting variant.

    The source is transformed on construction, so unsupported constructs fail at
    decoration time; numba compiles (or loads from its cache) on the first ``run``.
    """

    def __init__(self, pyfunc):
        self.pyfunc = pyfunc
        self.name: str = pyfunc.__name__
        self._src = parse(pyfunc)
        self.filename: str = self._src.filename
        self.lineno: int = self._src.line(self._src.fdef)
        generated = generate(self._src)
        self.arg_names: tuple[str, ...] = tuple(u.name for u in generated.uses)
        self._uses = generated.uses
        self._const_names = tuple(generated.consts)
        self._n_slots = abi.n_slots(len(self.arg_names))
        self._end = N_OPS + 2 * len(self.arg_names)   # first error slot
        self._pending = {((), self._const_key()): generated}
        self._variants: dict[tuple, _Variant] = {}
        self._plans: dict[tuple, _Plan] = {}

    def __repr__(self) -> str:
        return f"<CompiledLoop {self.name} ({self.filename}:{self.lineno})>"

    @property
    def counting_source(self) -> str:
        """The generated counting variant for plain (non-float16) arguments, for inspection."""
        return self._generate(((), self._const_key())).text

    def run(self, *args, max_iterations: int = 10**9) -> LoopResult:
        """Run the loop on ``args`` in place and return what it did.

        ``args``: numpy arrays (ndim 1..4, any numeric dtype incl. float16) and Python
        int/float/bool scalars, one per parameter. At most ``max_iterations`` loop
        iterations run; past that the result carries a ``step_limit`` error.
        """
        return self.result(self.run_counts(args, max_iterations), args)

    def run_counts(self, args: tuple, max_iterations: int = 10**9) -> list[int]:
        """``run`` without building a LoopResult: the raw counts as a list, in the layout
        of ``abi`` (the OP_KINDS counters, then loads and stores interleaved per parameter,
        then the error slots, the first of which is ERR_NONE unless the run faulted).
        ``result(counts, args)`` decodes them."""
        plan = self._plans.get(_signature(args))
        if plan is None:
            plan = self._plan(args)
        call_args = args if plan.convert is None else plan.arguments(args)
        variant = plan.variant or self._variant(plan.half)
        if type(max_iterations) is int and 0 <= max_iterations <= INT64_MAX:
            budget = max_iterations
        else:
            budget = min(max(int(max_iterations), 0), INT64_MAX)
        counts = np.zeros(self._n_slots, dtype=np.int64)
        try:
            variant.dispatcher(*call_args, counts, budget)
        except _numba_error_type() as exc:     # typing/lowering failed for these types
            raise self._numba_error(exc, variant) from exc
        return counts.tolist()

    def direct(self, args: tuple) -> tuple | None:
        """After a ``run_counts(args)``: the compiled variant later calls with arguments of
        the same types may call through ``run_direct``, and what each array must match
        to do so ((position, dtype, ndim) triples); None when calls need ``run_counts``
        (float16 views, scalars to normalise, frozen globals to re-read)."""
        plan = self._plans.get(_signature(args))
        if plan is None or plan.convert is not None or plan.variant is None:
            return None
        guards = tuple((k, a.dtype, a.ndim) for k, a in enumerate(args) if type(a) is _ndarray)
        return plan.variant, guards

    def run_direct(self, variant: _Variant, args, budget: int) -> np.ndarray:
        """``run_counts`` through a variant from ``direct``, for a budget in [0, 2**63); the
        counts as the int64 array the variant filled (``tolist()`` gives ``run_counts``'s
        list; ``tobytes()`` a key for the same counts met again)."""
        counts = np.zeros(self._n_slots, dtype=_INT64)
        try:
            variant.dispatcher(*args, counts, budget)
        except _numba_error_type() as exc:  # e.g. a read-only array where one was written
            raise self._numba_error(exc, variant) from exc
        return counts

    def result(self, counts: list[int], args: tuple) -> LoopResult:
        """The LoopResult of raw ``counts`` from ``run_counts(args, ...)``."""
        end = self._end
        error = None if counts[end] == ERR_NONE else self._error(counts[end:], args)
        return LoopResult(dict(zip(OP_KINDS, counts)), tuple(counts[N_OPS:end:2]),
                          tuple(counts[N_OPS + 1:end:2]), error)

    def _error(self, err: list[int], args: tuple) -> LoopError:
        kind = ERROR_KINDS[err[0]]
        if err[0] == abi.ERR_OUT_OF_BOUNDS:
            param = err[1]
            return LoopError(kind, self.arg_names[param], tuple(err[4:4 + err[3]]),
                             tuple(np.shape(args[param])), self.filename, err[2])
        return LoopError(kind, "", (), (), self.filename, err[2])

    # -- arguments -----------------------------------------------------------------------

    def _plan(self, args: tuple) -> _Plan:
        """Check arguments against how the source uses each parameter; decide how scalars
        are normalised (so numba signatures stay stable) and which float16 arrays are
        passed as uint16 views. Kept for the arguments' signature when that is exact."""
        if len(args) != len(self._uses):
            raise TypeError(f"{self.name}() takes {len(self._uses)} arguments "
                            f"({len(args)} given)")
        convert = []
        half: tuple[int, ...] = ()
        keep = True                       # False for ndarray subclasses: type is no signature
        for k, (a, use) in enumerate(zip(args, self._uses)):
            if isinstance(a, np.ndarray):
                keep = keep and type(a) is np.ndarray
                self._check_array(a, use)
                if a.dtype == np.float16:
                    convert.append((k, _half_view))
                    half += (k,)
                continue
            if isinstance(a, (bool, np.bool_)):
                fn = bool
            elif isinstance(a, (int, np.integer)):
                fn = int
            elif isinstance(a, (float, np.floating)):
                fn = float
            else:
                raise TypeError(f"{self.name}: argument '{use.name}' has unsupported type "
                                f"{type(a).__name__}")
            if use.array_line is not None:
                raise LoopCompileError(f"{self.filename}:{use.array_line}: '{use.name}' is used "
                                       f"as an array but {self.name} was given a scalar for it")
            if type(a) is not fn:
                convert.append((k, fn))
        plan = _Plan(half, tuple(convert) or None)
        if keep:
            self._plans[_signature(args)] = plan
        return plan

    def _check_array(self, a: np.ndarray, use: ParamUse) -> None:
        if use.scalar_line is not None:
            raise LoopCompileError(f"{self.filename}:{use.scalar_line}: '{use.name}' is used as "
                                   f"a scalar but {self.name} was given an array for it")
        if not 1 <= a.ndim <= MAX_DIMS:
            raise TypeError(f"{self.name}: argument '{use.name}' has {a.ndim} dimensions; "
                            f"1 to {MAX_DIMS} are supported")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{self.name}: argument '{use.name}' has dtype {a.dtype}; "
                            "only bool, integer and float arrays are supported")
        if use.ndim is not None and a.ndim != use.ndim:
            raise LoopCompileError(f"{self.filename}:{use.ndim_line}: '{use.name}' is indexed "
                                   f"with {indices(use.ndim)} but the array passed has "
                                   f"{a.ndim} dimensions")

    def _const_key(self) -> tuple:
        """Current values of the frozen globals (with types: 1, 1.0 and True differ)."""
        if not self._const_names:
            return ()
        values = []
        for name in self._const_names:
            found, value = lookup(self.pyfunc, name)
            if not found or type(value) not in (int, float, bool):
                free = classify(name, value) if found else f"global '{name}' no longer exists"
                if isinstance(free, str):          # rebound to something unsupported
                    raise LoopCompileError(f"{self.filename}:{self.lineno}: {free}")
                value = free.value
            values.append((type(value), value))
        return tuple(values)

    # -- compilation ---------------------------------------------------------------------

    def _variant(self, half: tuple[int, ...]) -> _Variant:
        """The variant for ``half`` and the frozen globals' current values, built if new."""
        key = (half, self._const_key())
        variant = self._variants.get(key) or self._build(key)
        if not self._const_names:          # nothing else selects it: keep it in the plan
            for plan in list(self._plans.values()):
                if plan.half == half:
                    plan.variant = variant
        return variant

    def _generate(self, key: tuple) -> Generated:
        generated = self._pending.get(key)
        if generated is None:
            generated = generate(self._src, frozenset(key[0]))
        return generated

    def _build(self, key: tuple) -> _Variant:
        with build_lock:
            if key in self._variants:
                return self._variants[key]
            generated = self._generate(key)
            dispatcher, path = build(self.name, generated.text, generated.func_name)
            variant = _Variant(dispatcher, path, generated.line_map)
            self._pending.pop(key, None)
            self._variants[key] = variant
            return variant

    def _numba_error(self, exc: Exception, variant: _Variant) -> LoopCompileError:
        """Turn a numba compile error into a one-line LoopCompileError at the user's line."""
        text = str(exc)
        line = self.lineno
        for file, gen_line in re.findall(r'File "([^"]+)", line (\d+)', text):
            if os.path.basename(file) == variant.path.name:
                line = variant.line_map.get(int(gen_line), line)
                break
        lines = [s.strip() for s in text.splitlines() if s.strip()]
        lines = [s for s in lines if not s.startswith("Failed in ")] or ["unknown error"]
        what = lines[0]
        if what.endswith(":") and len(lines) > 1:      # "... found for signature:" + signature
            what = f"{what} {lines[1].lstrip('> ')}"
        return LoopCompileError(f"{self.filename}:{line}: numba cannot compile {self.name} "
                                f"for these argument types: {what}")


def compile_loop(pyfunc) -> CompiledLoop:
    """Transform ``pyfunc`` into a :class:`CompiledLoop` (raises LoopCompileError early)."""
    if isinstance(pyfunc, CompiledLoop):
        return pyfunc
    return CompiledLoop(pyfunc)
