"""Compile ``@loop`` functions into numba functions that compute *and* count.

A ``@loop`` function is a plain Python function over numpy arrays and scalars. This
module parses its source and generates a *counting variant*: the same computation,
rewritten so that every operation it performs also bumps a counter, every element
access is bounds-checked, and every loop iteration is charged against a budget. The
variant is compiled once by numba (``cache=True``) and is the only code that ever
touches the arrays, so the data a kernel produces and the operation counts that the
timing model turns into cycles cannot drift apart.

How expressions are rewritten. Conditional evaluation (``x if c else y``, ``and``/``or``,
chained comparisons) must count only the side that actually ran, and a faulting access
must stop the loop before memory is touched. Both need statements inside expressions,
so expressions are lowered to straight-line statements (A-normal form): loads become a
bounds check plus a counter bump, conditional parts become ``if`` blocks assigning a
temporary, and what remains is a side-effect-free expression. Counters are local
variables (registers after LLVM) flushed into an int64 array on every exit; nothing on
the hot path calls a helper that takes an array, because numba pays an atomic
incref/decref per array argument per call.

Counting rules (per operation actually executed on the given data):

* ``iterations`` -- each execution of a ``for``/``while`` body.
* ``arith`` -- each binary operator, unary operator (``-x``, ``not x``, ``~x``; a
  negative literal is free), augmented assignment, and truth test made by ``and``/``or``
  (``a and b`` is one; ``a and b and c`` is one or two, short-circuiting).
* ``compares`` -- each comparison performed (``a < b < c`` is two, or one when
  ``a < b`` is false).
* ``selects`` -- each ``x if c else y``.
* ``branches`` -- each ``if`` statement executed (an ``elif`` is another ``if``).
* ``calls`` -- ``abs``, ``min``, ``max``, ``round``, ``math.*`` and numpy scalar
  functions. ``range``, ``len``, ``int``/``float``/``bool`` and numpy dtype casts are free.
* loads / stores -- element accesses ``a[i]``, ``a[i][j]``, ``a[i, j]`` on a parameter
  (up to 4-D); ``a[i] += x`` is a load, an arith and a store.

Globals that are int/float/bool are frozen into the generated source as literals, read
when the loop runs (so ``BUFFER_SIZE`` changed after decoration is honoured and numba's
cache, keyed on the source file, never serves a stale constant).

Arithmetic follows numba, not NumPy: a Python float literal is float64, so
``a[i] * 0.1`` on a float32 array computes in float64 and rounds once on the store.
numba has no float16 on the CPU, so float16 arrays are passed as uint16 views whose
elements load as float32 and store rounded to nearest even (bit-exact with NumPy's
conversion); NumPy's own float16 arithmetic rounds after every operation instead.

Errors: unsupported source raises LoopCompileError when the function is compiled
(decoration time). Arguments that contradict the source (an array for a scalar, the
wrong number of dimensions) and numba typing failures raise LoopCompileError from
``run``, still naming the user's file and line.
"""
from __future__ import annotations

import ast
import builtins
import hashlib
import importlib.util
import inspect
import math
import numbers
import os
import re
import sys
import tempfile
import textwrap
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import abi as _h  # the counts layout; numba itself is imported when a loop runs

_HELPERS_MODULE = "gpsimd_sim.loops.helpers"

OP_KINDS: tuple[str, ...] = ("iterations", "arith", "compares", "selects", "branches", "calls")
assert len(OP_KINDS) == _h.N_OPS

MAX_DIMS = 4
_INT64_MAX = 2**63 - 1
_PREFIX = "_gs_"                  # every name the generator introduces starts with this
_COUNTER = {kind: f"{_PREFIX}n_{kind}" for kind in OP_KINDS}
_NUMBA_OPTIONS = dict(cache=True, error_model="numpy", boundscheck=False, nogil=True)


class LoopCompileError(Exception):
    """A ``@loop`` function uses something the counting compiler cannot support.

    The message is ``"<file>:<line>: <what is unsupported>"`` on one line.
    """


@dataclass(frozen=True)
class LoopError:
    """A run-time fault found inside the compiled loop (memory was not touched)."""
    kind: str                # "out_of_bounds" or "step_limit"
    arg_name: str            # parameter whose subscript faulted ("" for step_limit)
    index: tuple[int, ...]   # the offending index (all dims as written), () for step_limit
    shape: tuple[int, ...]   # shape of that array (() for step_limit)
    filename: str            # the user's source file
    line: int                # absolute line number in the user's source file


@dataclass(frozen=True)
class LoopResult:
    """What one run of a compiled loop did: operation counts and per-parameter accesses."""
    ops: dict[str, int]          # one entry per OP_KINDS
    loads: tuple[int, ...]       # per positional parameter: element loads (0 for scalars)
    stores: tuple[int, ...]      # per positional parameter: element stores
    error: LoopError | None


# ----------------------------------------------------------------------------------------
# What a @loop function may reference besides its parameters and locals.

_FREE_BUILTINS = frozenset({"int", "float", "bool"})
_COUNTED_BUILTINS = frozenset({"abs", "min", "max", "round"})
_ALLOWED_BUILTINS = _FREE_BUILTINS | _COUNTED_BUILTINS | {"len", "range"}
_MATH_CONSTS = frozenset({"pi", "e", "tau", "inf", "nan"})
_NP_CONSTS = frozenset({"pi", "e", "inf", "nan", "euler_gamma"})
_NP_CASTS = frozenset({"float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                       "uint16", "uint32", "uint64", "intp", "uintp", "bool_"})
_NP_FUNCS = frozenset({
    "abs", "absolute", "fabs", "sign", "sqrt", "cbrt", "square", "reciprocal", "exp", "exp2",
    "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos",
    "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "floor",
    "ceil", "trunc", "rint", "maximum", "minimum", "fmax", "fmin", "power", "hypot",
    "copysign", "fmod", "remainder", "isnan", "isinf", "isfinite", "deg2rad", "rad2deg",
    "logaddexp", "logaddexp2", "signbit", "nextafter", "ldexp",
})
_MODULES = {"math": math, "numpy": np}
_CALLABLE_HINT = ("a @loop function may call only abs, min, max, round, int, float, bool, "
                  "math.* and numpy scalar functions")

_STMT_HINTS = {
    "FunctionDef": "nested function definitions are not supported",
    "AsyncFunctionDef": "nested function definitions are not supported",
    "ClassDef": "class definitions are not supported",
    "With": "'with' is not supported", "AsyncWith": "'with' is not supported",
    "Try": "'try' is not supported", "TryStar": "'try' is not supported",
    "Raise": "'raise' is not supported", "Assert": "'assert' is not supported",
    "Delete": "'del' is not supported",
    "Import": "imports inside a @loop function are not supported (import at module level)",
    "ImportFrom": "imports inside a @loop function are not supported (import at module level)",
    "Global": "'global' is not supported", "Nonlocal": "'nonlocal' is not supported",
    "AsyncFor": "'async for' is not supported", "Match": "'match' is not supported",
}
_EXPR_HINTS = {
    "Lambda": "lambda is not supported",
    "ListComp": "comprehensions are not supported", "SetComp": "comprehensions are not supported",
    "DictComp": "comprehensions are not supported",
    "GeneratorExp": "generator expressions are not supported",
    "List": "list displays are not supported (they allocate)",
    "Set": "set displays are not supported", "Dict": "dict displays are not supported",
    "NamedExpr": "':=' is not supported", "JoinedStr": "f-strings are not supported",
    "Starred": "'*' unpacking is not supported", "Slice": "slices are not supported",
    "Yield": "'yield' is not supported", "YieldFrom": "'yield' is not supported",
    "Await": "'await' is not supported",
}


def _module_call_kind(module: str, attr: str) -> str | None:
    """How a call to ``module.attr`` is counted: "counted", "free", "half" or None (refused)."""
    if module == "math":
        return "counted" if attr not in _MATH_CONSTS and callable(getattr(math, attr, None)) else None
    if attr == "float16":
        return "half"            # numba has no float16 scalar: emulated by rounding
    if attr in _NP_CASTS:
        return "free"
    if attr in _NP_FUNCS:
        return "counted"
    return None


# ----------------------------------------------------------------------------------------
# The user's source.

@dataclass
class _Source:
    """The parsed ``def`` of a @loop function and how to map its lines back to the file."""
    pyfunc: object
    fdef: ast.FunctionDef
    filename: str
    offset: int              # absolute line = node.lineno + offset

    def line(self, node: ast.AST) -> int:
        return node.lineno + self.offset

    def error(self, node: ast.AST | int, what: str) -> LoopCompileError:
        line = node if isinstance(node, int) else self.line(node)
        return LoopCompileError(f"{self.filename}:{line}: {what}")


def _parse(pyfunc) -> _Source:
    """Read and parse the function's source; decorators are dropped."""
    code = getattr(pyfunc, "__code__", None)
    if code is None:
        raise TypeError(f"@loop expects a Python function, got {type(pyfunc).__name__}")
    filename = inspect.getsourcefile(pyfunc) or code.co_filename
    try:
        lines, start = inspect.getsourcelines(pyfunc)
    except (OSError, TypeError) as exc:
        raise LoopCompileError(f"{filename}:{code.co_firstlineno}: cannot read the source of "
                               f"{pyfunc.__name__} ({exc})") from None
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError as exc:   # e.g. a lambda inside a larger expression
        raise LoopCompileError(f"{filename}:{code.co_firstlineno}: cannot parse the source of "
                               f"{pyfunc.__name__} ({exc.msg})") from None
    fdef = tree.body[0] if tree.body else None
    if not isinstance(fdef, ast.FunctionDef):
        what = "async functions" if isinstance(fdef, ast.AsyncFunctionDef) else "lambdas"
        raise LoopCompileError(f"{filename}:{code.co_firstlineno}: {what} are not supported by @loop")
    fdef.decorator_list = []
    return _Source(pyfunc, fdef, filename, start - 1)


def _lookup(pyfunc, name: str) -> tuple[bool, object]:
    """Value of a free name as the function would see it: closure, then globals, then builtins."""
    code = pyfunc.__code__
    if name in code.co_freevars:
        cell = pyfunc.__closure__[code.co_freevars.index(name)]
        try:
            return True, cell.cell_contents
        except ValueError:   # the enclosing function has not assigned it yet
            return False, None
    if name in pyfunc.__globals__:
        return True, pyfunc.__globals__[name]
    if hasattr(builtins, name):
        return True, getattr(builtins, name)
    return False, None


@dataclass(frozen=True)
class _Free:
    """A resolved free name. kind: "const", "module", "func" or "builtin"."""
    kind: str
    value: object = None     # the constant; "math"/"numpy"; (module, attr); builtin name


def _classify(name: str, value) -> _Free | str:
    """Classify a free name's value, or return why it cannot be used."""
    if isinstance(value, (bool, np.bool_)):
        return _Free("const", bool(value))
    if isinstance(value, numbers.Integral):
        value = int(value)
        if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
            return f"global '{name}' = {value} does not fit in int64"
        return _Free("const", value)
    if isinstance(value, numbers.Real):
        return _Free("const", float(value))
    for mod_name, mod in _MODULES.items():
        if value is mod:
            return _Free("module", mod_name)
    if value is getattr(builtins, name, None) and name in _ALLOWED_BUILTINS:
        return _Free("builtin", name)
    attr = getattr(value, "__name__", None)
    for mod_name, mod in _MODULES.items():
        if attr and getattr(mod, attr, None) is value and _module_call_kind(mod_name, attr):
            return _Free("func", (mod_name, attr))
    if callable(value):
        return f"call to '{name}' is not supported: {_CALLABLE_HINT}"
    return (f"global '{name}' is a {type(value).__name__}; a @loop function may use only "
            "int/float/bool constants, math and numpy")


def _literal(value) -> ast.expr:
    """Source literal for a frozen constant (negatives as unary minus, for safe precedence)."""
    if isinstance(value, bool):
        return ast.Constant(value)
    if isinstance(value, float) and math.isnan(value):
        return ast.Attribute(ast.Name(f"{_PREFIX}math", ast.Load()), "nan", ast.Load())
    if isinstance(value, float) and math.isinf(value):
        node = ast.Attribute(ast.Name(f"{_PREFIX}math", ast.Load()), "inf", ast.Load())
    else:
        node = ast.Constant(abs(value))
    if value < 0 or (isinstance(value, float) and math.copysign(1.0, value) < 0):
        return ast.UnaryOp(ast.USub(), node)
    return node


# ----------------------------------------------------------------------------------------
# Generated code, as a tree of lines that remember the user line they came from.

@dataclass
class _Line:
    text: str
    line: int


@dataclass
class _Inc:
    """``counter += n``; consecutive bumps of one counter are merged."""
    counter: str
    n: int
    line: int


@dataclass
class _Block:
    header: str
    body: list
    line: int


def _render(items: list, depth: int, out: list[tuple[str, int]]) -> None:
    pad = "    " * depth
    for item in items:
        if isinstance(item, _Block):
            out.append((pad + item.header, item.line))
            _render(item.body or [_Line("pass", item.line)], depth + 1, out)
        elif isinstance(item, _Inc):
            out.append((f"{pad}{item.counter} += {item.n}", item.line))
        else:
            out.append((pad + item.text, item.line))


def _indices(n: int) -> str:
    return "1 index" if n == 1 else f"{n} indices"


def _src(node: ast.expr) -> str:
    return ast.unparse(node)


def _name(ident: str) -> ast.Name:
    return ast.Name(ident, ast.Load())


@dataclass(frozen=True)
class _ParamUse:
    """How the source uses one parameter, checked against the arguments of each run."""
    name: str
    ndim: int | None         # number of indices of its subscripts (None: not subscripted)
    ndim_line: int
    array_line: int | None   # first use as an array (subscript, .shape, len)
    scalar_line: int | None  # first use as a scalar value


@dataclass
class _Generated:
    text: str
    func_name: str
    line_map: dict[int, int]        # generated line -> user line
    consts: dict[str, object]       # frozen globals and the values baked in
    uses: tuple[_ParamUse, ...]


class _Generator:
    """Lowers one @loop function into the source of its counting variant."""

    def __init__(self, src: _Source, half: frozenset[int] = frozenset()):
        self.src = src
        fdef = src.fdef
        self.params = self._signature(fdef)
        self.pindex = {p: i for i, p in enumerate(self.params)}
        self._check_reserved(fdef)
        self.locals = {n.id for n in ast.walk(fdef) if isinstance(n, ast.Name)
                       and isinstance(n.ctx, ast.Store)} - set(self.params)
        self.array_params = self._array_params(fdef)
        self.half = {self.params[i] for i in half}   # float16 arrays, passed as uint16 views
        self.ndim: dict[str, tuple[int, int]] = {}
        self.array_line: dict[str, int] = {}
        self.scalar_line: dict[str, int] = {}
        self.imports: set[str] = set()
        self.consts: dict[str, object] = {}
        self._ntemp = 0
        counters = [_COUNTER[k] for k in OP_KINDS]
        for p in self.params:
            counters += [self._load_counter(p), self._store_counter(p)]
        self.counters = counters
        self.counters_tuple = "(" + ", ".join(counters) + ",)"
        self.body: list = []
        self._out = self.body

    # -- entry point ---------------------------------------------------------------------

    def generate(self) -> _Generated:
        fdef = self.src.fdef
        self._stmts(fdef.body)
        func_name = f"{fdef.name}__counting"
        header = [
            # Only the base name: the same kernel checked out elsewhere shares the cache.
            f"# Counting variant of {fdef.name} ({os.path.basename(self.src.filename)}:"
            f"{self.src.line(fdef)}),",
            "# generated by gpsimd_sim.loops.compiler. Do not edit: the file name is a",
            "# hash of this text and numba caches machine code keyed on this file.",
            f"# loop_helpers {_HELPERS_HASH}",
            f"import math as {_PREFIX}math",
            f"from {_HELPERS_MODULE} import fail as {_PREFIX}fail, flush as {_PREFIX}flush, "
            f"float_to_half as {_PREFIX}f2h, half_to_float as {_PREFIX}h2f",
            *sorted(self.imports),
            "",
            "",
            f"def {func_name}({', '.join([*self.params, f'{_PREFIX}c', f'{_PREFIX}budget'])}):",
        ]
        first = self.src.line(fdef)
        lines: list[tuple[str, int]] = [(text, first) for text in header]
        lines.append(("    " + " = ".join(self.counters) + " = 0", first))
        _render(self.body, 1, lines)
        lines.append((f"    {_PREFIX}flush({_PREFIX}c, {self.counters_tuple})", first))
        text = "\n".join(t for t, _ in lines) + "\n"
        line_map = {i + 1: user for i, (_, user) in enumerate(lines)}
        uses = tuple(self._use(p) for p in self.params)
        return _Generated(text, func_name, line_map, dict(self.consts), uses)

    def _use(self, param: str) -> _ParamUse:
        ndim, ndim_line = self.ndim.get(param, (None, 0))
        return _ParamUse(param, ndim, ndim_line, self.array_line.get(param),
                         self.scalar_line.get(param))

    # -- checks made once over the whole function ----------------------------------------

    def _signature(self, fdef: ast.FunctionDef) -> tuple[str, ...]:
        a = fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs:
            raise self.src.error(fdef, "only plain positional parameters are supported "
                                       "(no *args, **kwargs or keyword-only parameters)")
        if a.defaults:
            raise self.src.error(fdef, "parameter defaults are not supported")
        return tuple(arg.arg for arg in [*a.posonlyargs, *a.args])

    def _check_reserved(self, fdef: ast.FunctionDef) -> None:
        for p in self.params:
            if p.startswith(_PREFIX):
                raise self.src.error(fdef, f"names starting with '{_PREFIX}' are reserved ('{p}')")
        for node in ast.walk(fdef):
            if isinstance(node, ast.Name) and node.id.startswith(_PREFIX):
                raise self.src.error(node, f"names starting with '{_PREFIX}' are reserved "
                                           f"('{node.id}')")

    def _array_params(self, fdef: ast.FunctionDef) -> set[str]:
        """Parameters the source uses as arrays: subscripted, measured or passed to len()."""
        found = set()
        for node in ast.walk(fdef):
            base = None
            if isinstance(node, ast.Subscript):
                base = node
                while isinstance(base, ast.Subscript):
                    base = base.value
            elif isinstance(node, ast.Attribute):
                base = node.value
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id == "len" and len(node.args) == 1):
                base = node.args[0]
            if isinstance(base, ast.Name) and base.id in self.pindex:
                found.add(base.id)
        return found

    # -- emission ------------------------------------------------------------------------

    def _emit(self, text: str, line: int) -> None:
        self._out.append(_Line(text, line))

    def _inc(self, counter: str, line: int, n: int = 1) -> None:
        last = self._out[-1] if self._out else None
        if isinstance(last, _Inc) and last.counter == counter:
            last.n += n
        else:
            self._out.append(_Inc(counter, n, line))

    @contextmanager
    def _block(self, header: str, line: int):
        block = _Block(header, [], line)
        self._out.append(block)
        saved, self._out = self._out, block.body
        try:
            yield
        finally:
            self._out = saved

    @contextmanager
    def _captured(self):
        """Emit into a fresh list (to decide afterwards whether it needs a block)."""
        saved, self._out = self._out, []
        try:
            yield self._out
        finally:
            self._out = saved

    def _temp(self, value: ast.expr, line: int) -> ast.Name:
        """Evaluate ``value`` now into a fresh temporary."""
        self._ntemp += 1
        name = f"{_PREFIX}t{self._ntemp}"
        self._emit(f"{name} = {_src(value)}", line)
        return _name(name)

    def _simple(self, value: ast.expr, line: int) -> ast.expr:
        """``value`` if it is a name or literal, else a temporary holding it."""
        if isinstance(value, (ast.Name, ast.Constant)):
            return value
        return self._temp(value, line)

    def _fail(self, kind: int, param: int, line: int, index: list[ast.expr]) -> None:
        values = [_src(i) for i in index] + ["0"] * (MAX_DIMS - len(index))
        self._emit(f"{_PREFIX}fail({_PREFIX}c, {self.counters_tuple}, {kind}, {param}, {line}, "
                   f"{len(index)}, {', '.join(values)})", line)
        self._emit("return", line)

    @staticmethod
    def _load_counter(param: str) -> str:
        return f"{_PREFIX}ld_{param}"

    @staticmethod
    def _store_counter(param: str) -> str:
        return f"{_PREFIX}st_{param}"

    # -- names ---------------------------------------------------------------------------

    def _free(self, node: ast.Name) -> _Free:
        found, value = _lookup(self.src.pyfunc, node.id)
        if not found:
            raise self.src.error(node, f"name '{node.id}' is not defined (globals a @loop "
                                       "function uses must be defined before it)")
        free = _classify(node.id, value)
        if isinstance(free, str):
            raise self.src.error(node, free)
        return free

    def _import(self, alias: str, free: _Free) -> None:
        if free.kind == "module":
            self.imports.add(f"import {free.value}" if alias == free.value
                             else f"import {free.value} as {alias}")
        elif free.kind == "func":
            module, attr = free.value
            self.imports.add(f"from {module} import {attr}" if alias == attr
                             else f"from {module} import {attr} as {alias}")

    def _is_user_name(self, ident: str) -> bool:
        return ident in self.pindex or ident in self.locals

    def _bind(self, target: ast.Name) -> None:
        """Check an assignment to a plain name."""
        if target.id in self.array_params:
            raise self.src.error(target, f"cannot assign to array parameter '{target.id}'")
        if target.id in self.pindex:
            self.scalar_line.setdefault(target.id, self.src.line(target))

    # -- statements ----------------------------------------------------------------------

    def _stmts(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            kind = type(stmt).__name__
            handler = getattr(self, f"_stmt_{kind}", None)
            if handler is None:
                raise self.src.error(stmt, _STMT_HINTS.get(kind, f"{kind} statements are not supported"))
            handler(stmt, self.src.line(stmt))

    def _stmt_Pass(self, stmt, line):
        self._emit("pass", line)

    def _stmt_Break(self, stmt, line):
        self._emit("break", line)

    def _stmt_Continue(self, stmt, line):
        self._emit("continue", line)

    def _stmt_Return(self, stmt, line):
        if stmt.value is not None and not (isinstance(stmt.value, ast.Constant)
                                           and stmt.value.value is None):
            raise self.src.error(stmt, "'return <value>' is not supported: a @loop function "
                                       "works in place and returns nothing")
        self._emit(f"{_PREFIX}flush({_PREFIX}c, {self.counters_tuple})", line)
        self._emit("return", line)

    def _stmt_Expr(self, stmt, line):
        if isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            return                       # docstring or string used as a comment
        self._expr(stmt.value)           # counted and checked; the value is discarded

    def _stmt_If(self, stmt, line):
        test = self._expr(stmt.test)
        self._inc(_COUNTER["branches"], line)
        with self._block(f"if {_src(test)}:", line):
            self._stmts(stmt.body)
        if stmt.orelse:
            with self._block("else:", line):
                self._stmts(stmt.orelse)

    def _iteration(self, line: int) -> None:
        """Charge one iteration against the budget; stop the loop when it is spent."""
        with self._block(f"if {_COUNTER['iterations']} >= {_PREFIX}budget:", line):
            self._fail(_h.ERR_STEP_LIMIT, -1, line, [])
        self._inc(_COUNTER["iterations"], line)

    def _stmt_For(self, stmt, line):
        if stmt.orelse:
            raise self.src.error(stmt, "'for ... else' is not supported")
        if not isinstance(stmt.target, ast.Name):
            raise self.src.error(stmt, "the target of a for loop must be a single name")
        it = stmt.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range" and not self._is_user_name("range")
                and self._free(it.func).kind == "builtin"):
            raise self.src.error(stmt, "only 'for <name> in range(...)' loops are supported")
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.src.error(it, "range() takes one to three positional arguments")
        self._bind(stmt.target)
        bounds = [self._expr(a) for a in it.args]
        with self._block(f"for {stmt.target.id} in range({', '.join(map(_src, bounds))}):", line):
            self._iteration(line)
            self._stmts(stmt.body)

    def _stmt_While(self, stmt, line):
        if stmt.orelse:
            raise self.src.error(stmt, "'while ... else' is not supported")
        with self._captured() as pre:
            test = self._expr(stmt.test)
        if not pre:                       # the test is a pure expression: keep it in place
            with self._block(f"while {_src(test)}:", line):
                self._iteration(line)
                self._stmts(stmt.body)
            return
        with self._block("while True:", line):
            self._out.extend(pre)         # the test's loads and counts, every evaluation
            with self._block(f"if not ({_src(test)}):", line):
                self._emit("break", line)
            self._iteration(line)
            self._stmts(stmt.body)

    def _stmt_Assign(self, stmt, line):
        value = self._expr(stmt.value)
        if len(stmt.targets) == 1:
            self._assign(stmt.targets[0], value, line)
            return
        value = self._simple(value, line)      # x = y = expr: evaluate once
        for target in stmt.targets:
            self._assign(target, value, line)

    def _stmt_AnnAssign(self, stmt, line):
        if stmt.value is None:
            raise self.src.error(stmt, "an annotation without a value is not supported")
        self._assign(stmt.target, self._expr(stmt.value), line)

    def _assign(self, target: ast.expr, value: ast.expr, line: int) -> None:
        if isinstance(target, ast.Name):
            self._bind(target)
            self._emit(f"{target.id} = {_src(value)}", line)
        elif isinstance(target, ast.Subscript):
            self._store(target, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self._unpack(target, value, line)
        elif isinstance(target, ast.Attribute):
            raise self.src.error(target, "attribute assignment is not supported")
        else:
            raise self.src.error(target, f"assignment to {type(target).__name__} is not supported")

    def _unpack(self, target: ast.Tuple | ast.List, value: ast.expr, line: int) -> None:
        elts = target.elts
        if any(isinstance(e, ast.Starred) for e in elts):
            raise self.src.error(target, "'*' unpacking is not supported")
        if isinstance(value, ast.Tuple) and len(value.elts) == len(elts):
            # Python evaluates the whole right side before assigning (a, b = b, a).
            snapshot = [v if isinstance(v, ast.Constant) else self._temp(v, line)
                        for v in value.elts]
            for t, v in zip(elts, snapshot):
                self._assign(t, v, line)
        elif all(isinstance(e, ast.Name) for e in elts):
            for e in elts:
                self._bind(e)
            self._emit(f"{', '.join(e.id for e in elts)} = {_src(value)}", line)
        else:
            raise self.src.error(target, "unpacking into subscripts needs a tuple of the same "
                                         "length on the right")

    def _stmt_AugAssign(self, stmt, line):
        target = stmt.target
        if isinstance(target, ast.Name):
            self._bind(target)
            value = self._expr(stmt.value)
            self._inc(_COUNTER["arith"], line)
            self._emit(_src(ast.AugAssign(ast.Name(target.id, ast.Store()), stmt.op, value)), line)
        elif isinstance(target, ast.Subscript):
            # a[i] op= x: index once, load (checked), evaluate x, op, store the same element.
            param, index = self._element_index(target)
            current = self._load(param, index, self.src.line(target))
            value = self._expr(stmt.value)
            self._inc(_COUNTER["arith"], line)
            self._write(param, index, ast.BinOp(current, stmt.op, value), line)
        else:
            raise self.src.error(target, "augmented assignment to an attribute is not supported")

    def _store(self, target: ast.Subscript, value: ast.expr) -> None:
        line = self.src.line(target)
        param, index = self._element_index(target)
        self._check_bounds(param, index, line)
        self._write(param, index, value, line)

    def _write(self, param: str, index: list[ast.expr], value: ast.expr, line: int) -> None:
        """Store into an element whose index has been checked."""
        self._inc(self._store_counter(param), line)
        text = _src(value)
        if param in self.half:
            text = f"{_PREFIX}f2h({text})"
        self._emit(f"{param}[{', '.join(map(_src, index))}] = {text}", line)

    # -- element access ------------------------------------------------------------------

    def _element(self, node: ast.Subscript) -> tuple[str, list[ast.expr]]:
        """Split ``a[i][j]`` / ``a[i, j]`` into the parameter and its index expressions."""
        index: list[ast.expr] = []
        base = node
        while isinstance(base, ast.Subscript):
            part = base.slice
            parts = part.elts if isinstance(part, ast.Tuple) else [part]
            for p in parts:
                if isinstance(p, ast.Slice):
                    raise self.src.error(p, "slices are not supported: index single elements "
                                            "in a loop")
                if isinstance(p, ast.Starred) or (isinstance(p, ast.Constant) and p.value is ...):
                    raise self.src.error(p, "only integer indices are supported")
            index[:0] = parts
            base = base.value
        if not isinstance(base, ast.Name):
            raise self.src.error(node, f"subscript of '{_src(base)}' is not supported: only "
                                       "parameters can be indexed")
        param = base.id
        if param not in self.pindex:
            raise self.src.error(node, f"subscript of non-parameter '{param}' is not supported: "
                                       "only parameters can be indexed")
        line = self.src.line(node)
        if len(index) > MAX_DIMS:
            raise self.src.error(node, f"'{param}' has {len(index)} indices; at most {MAX_DIMS} "
                                       "are supported")
        seen = self.ndim.setdefault(param, (len(index), line))
        if seen[0] != len(index):
            raise self.src.error(node, f"'{param}' is indexed with {_indices(len(index))} here "
                                       f"but with {_indices(seen[0])} on line {seen[1]}")
        self.array_line.setdefault(param, line)
        return param, index

    def _element_index(self, node: ast.Subscript) -> tuple[str, list[ast.expr]]:
        param, index = self._element(node)
        line = self.src.line(node)
        return param, [self._simple(self._expr(i), line) for i in index]

    def _check_bounds(self, param: str, index: list[ast.expr], line: int) -> None:
        """C++ semantics: a negative index is out of bounds (no wrap-around)."""
        conds = []
        for dim, k in enumerate(index):
            k_src = _src(k)
            if not (isinstance(k, ast.Constant) and isinstance(k.value, int) and k.value >= 0):
                conds.append(f"{k_src} < 0")
            conds.append(f"{k_src} >= {param}.shape[{dim}]")
        with self._block(f"if {' or '.join(conds)}:", line):
            self._fail(_h.ERR_OUT_OF_BOUNDS, self.pindex[param], line, index)

    def _load(self, param: str, index: list[ast.expr], line: int) -> ast.expr:
        """Check and count a load; return the (side-effect-free) element expression."""
        self._check_bounds(param, index, line)
        self._inc(self._load_counter(param), line)
        key = index[0] if len(index) == 1 else ast.Tuple(index, ast.Load())
        element = ast.Subscript(_name(param), key, ast.Load())
        if param in self.half:
            return ast.Call(_name(f"{_PREFIX}h2f"), [element], [])
        return element

    # -- expressions: each returns a side-effect-free expression -------------------------

    def _expr(self, node: ast.expr) -> ast.expr:
        kind = type(node).__name__
        handler = getattr(self, f"_expr_{kind}", None)
        if handler is None:
            raise self.src.error(node, _EXPR_HINTS.get(kind, f"{kind} expressions are not supported"))
        return handler(node)

    def _expr_Constant(self, node):
        if isinstance(node.value, (bool, int, float)):
            return node
        raise self.src.error(node, f"constant {node.value!r} is not supported")

    def _expr_Name(self, node):
        ident = node.id
        line = self.src.line(node)
        if ident in self.pindex:
            if ident in self.array_params:
                raise self.src.error(node, f"array parameter '{ident}' can only be indexed "
                                           f"({ident}[i]) or measured ({ident}.shape, len({ident}))")
            self.scalar_line.setdefault(ident, line)
            return node
        if ident in self.locals:
            return node
        free = self._free(node)
        if free.kind == "const":
            self.consts[ident] = free.value
            return _literal(free.value)
        raise self.src.error(node, f"'{ident}' can only be called or used as {ident}.<name>"
                             if free.kind == "module" else f"'{ident}' can only be called")

    def _expr_Attribute(self, node):
        base = node.value
        if isinstance(base, ast.Name) and base.id in self.pindex:
            if node.attr in ("shape", "size", "ndim"):
                self.array_line.setdefault(base.id, self.src.line(node))
                return node
            raise self.src.error(node, f"'{base.id}.{node.attr}' is not supported "
                                       "(only .shape, .size and .ndim)")
        if isinstance(base, ast.Name) and not self._is_user_name(base.id):
            free = self._free(base)
            if free.kind == "module":
                consts = _MATH_CONSTS if free.value == "math" else _NP_CONSTS
                if node.attr in consts:
                    self._import(base.id, free)
                    return node
                if _module_call_kind(free.value, node.attr):
                    raise self.src.error(node, f"'{_src(node)}' can only be called")
        raise self.src.error(node, f"attribute access '{_src(node)}' is not supported")

    def _expr_Subscript(self, node):
        base = node.value
        if isinstance(base, ast.Attribute) and base.attr == "shape":   # a.shape[k] is free
            shape = self._expr_Attribute(base)
            if isinstance(node.slice, ast.Slice):
                raise self.src.error(node, "slices are not supported")
            return ast.Subscript(shape, self._expr(node.slice), ast.Load())
        param, index = self._element_index(node)
        return self._load(param, index, self.src.line(node))

    def _expr_Tuple(self, node):
        return ast.Tuple([self._expr(e) for e in node.elts], ast.Load())

    def _expr_BinOp(self, node):
        if isinstance(node.op, ast.MatMult):
            raise self.src.error(node, "'@' is not supported")
        left = self._expr(node.left)
        right = self._expr(node.right)
        self._inc(_COUNTER["arith"], self.src.line(node))
        return ast.BinOp(left, node.op, right)

    def _expr_UnaryOp(self, node):
        operand = node.operand
        if (isinstance(node.op, (ast.USub, ast.UAdd)) and isinstance(operand, ast.Constant)
                and isinstance(operand.value, (int, float)) and not isinstance(operand.value, bool)):
            return node                  # a negative literal is not an operation
        value = self._expr(operand)
        self._inc(_COUNTER["arith"], self.src.line(node))
        return ast.UnaryOp(node.op, value)

    def _expr_BoolOp(self, node):
        # One arith per truth test actually made; later operands run only if reached.
        line = self.src.line(node)
        result = self._temp(self._expr(node.values[0]), line)
        self._boolop_rest(node, 1, result.id, line)
        return result

    def _boolop_rest(self, node: ast.BoolOp, k: int, result: str, line: int) -> None:
        if k == len(node.values):
            return
        self._inc(_COUNTER["arith"], line)
        test = result if isinstance(node.op, ast.And) else f"not {result}"
        with self._block(f"if {test}:", line):
            self._emit(f"{result} = {_src(self._expr(node.values[k]))}", line)
            self._boolop_rest(node, k + 1, result, line)

    def _expr_Compare(self, node):
        line = self.src.line(node)
        for op in node.ops:
            if isinstance(op, (ast.In, ast.NotIn, ast.Is, ast.IsNot)):
                raise self.src.error(node, "'in' and 'is' comparisons are not supported")
        left = self._expr(node.left)
        if len(node.ops) == 1:
            right = self._expr(node.comparators[0])
            self._inc(_COUNTER["compares"], line)
            return ast.Compare(left, node.ops, [right])
        # a < b < c: b is evaluated once, and b < c runs (and counts) only if a < b.
        right = self._simple(self._expr(node.comparators[0]), line)
        self._inc(_COUNTER["compares"], line)
        result = self._temp(ast.Compare(left, node.ops[:1], [right]), line)
        self._chain_rest(node, 1, right, result.id, line)
        return result

    def _chain_rest(self, node: ast.Compare, k: int, prev: ast.expr, result: str, line: int):
        if k == len(node.ops):
            return
        with self._block(f"if {result}:", line):
            right = self._simple(self._expr(node.comparators[k]), line)
            self._inc(_COUNTER["compares"], line)
            self._emit(f"{result} = {_src(ast.Compare(prev, [node.ops[k]], [right]))}", line)
            self._chain_rest(node, k + 1, right, result, line)

    def _expr_IfExp(self, node):
        line = self.src.line(node)
        test = self._expr(node.test)
        self._inc(_COUNTER["selects"], line)
        with self._captured() as body_code:
            body = self._expr(node.body)
        with self._captured() as else_code:
            orelse = self._expr(node.orelse)
        if not body_code and not else_code:     # both sides pure: LLVM can use a select
            return ast.IfExp(test, body, orelse)
        self._ntemp += 1
        result = f"{_PREFIX}t{self._ntemp}"
        with self._block(f"if {_src(test)}:", line):
            self._out.extend(body_code)
            self._emit(f"{result} = {_src(body)}", line)
        with self._block("else:", line):
            self._out.extend(else_code)
            self._emit(f"{result} = {_src(orelse)}", line)
        return _name(result)

    def _expr_Call(self, node):
        line = self.src.line(node)
        if node.keywords:
            raise self.src.error(node, "keyword arguments are not supported")
        kind = self._callee(node.func)
        if kind == "len":
            arg = node.args[0] if len(node.args) == 1 else None
            if not (isinstance(arg, ast.Name) and arg.id in self.pindex):
                raise self.src.error(node, "len() is supported only on a parameter array")
            self.array_line.setdefault(arg.id, line)
            return ast.Call(node.func, [arg], [])
        args = [self._expr(a) for a in node.args]
        if kind == "half":
            if len(args) != 1:
                raise self.src.error(node, f"{_src(node.func)}() takes one argument")
            return ast.Call(_name(f"{_PREFIX}h2f"),
                            [ast.Call(_name(f"{_PREFIX}f2h"), args, [])], [])
        if kind == "counted":
            self._inc(_COUNTER["calls"], line)
        return ast.Call(node.func, args, [])

    def _callee(self, func: ast.expr) -> str:
        """Classify a callee: "free", "counted", "half" or "len"; anything else is refused."""
        hint = f"call to '{_src(func)}' is not supported: {_CALLABLE_HINT}"
        if isinstance(func, ast.Name):
            if self._is_user_name(func.id):
                raise self.src.error(func, hint)
            free = self._free(func)
            if free.kind == "builtin":
                if func.id == "range":
                    raise self.src.error(func, "range() is supported only as the iterable "
                                               "of a for loop")
                if func.id == "len":
                    return "len"
                return "counted" if func.id in _COUNTED_BUILTINS else "free"
            if free.kind == "func":
                self._import(func.id, free)
                return _module_call_kind(*free.value)
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and not self._is_user_name(func.value.id)):
            free = self._free(func.value)
            kind = _module_call_kind(free.value, func.attr) if free.kind == "module" else None
            if kind:
                self._import(func.value.id, free)
                return kind
        raise self.src.error(func, hint)


def _helpers_hash() -> str:
    """Hash of loop_helpers' source: numba's cache of a generated function embeds the
    helpers' machine code but is keyed only on the generated file, so a helper change
    must change the generated text (and hence its file name)."""
    digest = hashlib.sha256()
    for name in ("helpers.py", "abi.py"):
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.hexdigest()[:16]


_HELPERS_HASH = _helpers_hash()


# ----------------------------------------------------------------------------------------
# Writing, importing and jitting the generated source.

def _cache_dir() -> Path:
    root = os.environ.get("GPSIMD_SIM_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "gpsimd_sim"
    return base / "loops"


def _write_once(path: Path, text: str) -> None:
    """Create ``path`` with ``text`` atomically, leaving an existing identical file alone.

    numba's cache index records the source file's mtime, so the file must never be
    rewritten once it exists: processes racing to create it link a complete temp file
    into place (``os.link`` fails if another won), and never replace a good file.
    """
    try:
        existing = path.read_text()
    except FileNotFoundError:
        existing = None
    except (OSError, UnicodeDecodeError):
        existing = ""
    if existing == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)         # mkstemp makes it private; other users may share the cache
        if existing is None:
            try:
                os.link(tmp, path)
                return
            except FileExistsError:
                return               # another process wrote the same text (same hash)
            except OSError:
                pass                 # no hard links on this filesystem
        os.replace(tmp, path)        # absent without link support, or a corrupt file
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


_dispatchers: dict[str, object] = {}   # generated file -> numba dispatcher, per process
_build_lock = threading.RLock()


def _jit(path: Path, func_name: str):
    """Import the generated module and wrap its function in a caching numba dispatcher."""
    key = str(path)
    if key in _dispatchers:
        return _dispatchers[key]
    mod_name = f"gpsimd_sim_loop_{path.stem}"
    module = sys.modules.get(mod_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[mod_name]
            raise
    import numba  # here, not at import: loading a kernel file should not pay for numba

    dispatcher = numba.njit(**_NUMBA_OPTIONS)(getattr(module, func_name))
    _dispatchers[key] = dispatcher
    return dispatcher


@dataclass
class _Variant:
    """One generated and jitted specialisation (float16 parameters, frozen constants)."""
    dispatcher: object
    path: Path
    line_map: dict[int, int]


# ----------------------------------------------------------------------------------------
# Public API.

class CompiledLoop:
    """A ``@loop`` function with its counting variant.

    The source is transformed on construction, so unsupported constructs fail at
    decoration time; numba compiles (or loads from its cache) on the first ``run``.
    """

    def __init__(self, pyfunc):
        self.pyfunc = pyfunc
        self.name: str = pyfunc.__name__
        self._src = _parse(pyfunc)
        self.filename: str = self._src.filename
        self.lineno: int = self._src.line(self._src.fdef)
        generated = _Generator(self._src).generate()
        self.arg_names: tuple[str, ...] = tuple(u.name for u in generated.uses)
        self._uses = generated.uses
        self._const_names = tuple(generated.consts)
        self._n_slots = _h.n_slots(len(self.arg_names))
        self._pending = {((), self._const_key()): generated}
        self._variants: dict[tuple, _Variant] = {}

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
        call_args, half = self._prepare(args)
        key = (half, self._const_key())
        variant = self._variants.get(key) or self._build(key)
        counts = np.zeros(self._n_slots, dtype=np.int64)
        budget = min(max(int(max_iterations), 0), _INT64_MAX)
        from numba.core.errors import NumbaError  # loaded with the dispatcher already

        try:
            variant.dispatcher(*call_args, counts, budget)
        except NumbaError as exc:          # typing/lowering failed for these argument types
            raise self._numba_error(exc, variant) from exc
        return self._result(counts, args)

    # -- arguments -----------------------------------------------------------------------

    def _prepare(self, args: tuple) -> tuple[list, tuple[int, ...]]:
        """Check arguments against how the source uses each parameter; normalise scalars
        (so numba signatures stay stable) and pass float16 arrays as uint16 views."""
        if len(args) != len(self._uses):
            raise TypeError(f"{self.name}() takes {len(self._uses)} arguments "
                            f"({len(args)} given)")
        out = list(args)
        half: tuple[int, ...] = ()
        for k, (a, use) in enumerate(zip(args, self._uses)):
            if isinstance(a, np.ndarray):
                self._check_array(a, use)
                if a.dtype == np.float16:
                    out[k] = a.view(np.uint16)
                    half += (k,)
                continue
            if isinstance(a, (bool, np.bool_)):
                out[k] = bool(a)
            elif isinstance(a, (int, np.integer)):
                out[k] = int(a)
            elif isinstance(a, (float, np.floating)):
                out[k] = float(a)
            else:
                raise TypeError(f"{self.name}: argument '{use.name}' has unsupported type "
                                f"{type(a).__name__}")
            if use.array_line is not None:
                raise LoopCompileError(f"{self.filename}:{use.array_line}: '{use.name}' is used "
                                       f"as an array but {self.name} was given a scalar for it")
        return out, half

    def _check_array(self, a: np.ndarray, use: _ParamUse) -> None:
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
                                   f"with {_indices(use.ndim)} but the array passed has "
                                   f"{a.ndim} dimensions")

    def _const_key(self) -> tuple:
        """Current values of the frozen globals (with types: 1, 1.0 and True differ)."""
        if not self._const_names:
            return ()
        values = []
        for name in self._const_names:
            found, value = _lookup(self.pyfunc, name)
            if not found or type(value) not in (int, float, bool):
                free = _classify(name, value) if found else f"global '{name}' no longer exists"
                if isinstance(free, str):          # rebound to something unsupported
                    raise LoopCompileError(f"{self.filename}:{self.lineno}: {free}")
                value = free.value
            values.append((type(value), value))
        return tuple(values)

    # -- compilation ---------------------------------------------------------------------

    def _generate(self, key: tuple) -> _Generated:
        generated = self._pending.get(key)
        if generated is None:
            generated = _Generator(self._src, frozenset(key[0])).generate()
        return generated

    def _build(self, key: tuple) -> _Variant:
        with _build_lock:
            if key in self._variants:
                return self._variants[key]
            generated = self._generate(key)
            digest = hashlib.sha256(generated.text.encode()).hexdigest()[:20]
            path = _cache_dir() / f"{self.name}_{digest}.py"
            _write_once(path, generated.text)
            variant = _Variant(_jit(path, generated.func_name), path, generated.line_map)
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

    # -- results -------------------------------------------------------------------------

    def _result(self, counts: np.ndarray, args: tuple) -> LoopResult:
        values = counts.tolist()
        n = _h.N_OPS
        end = n + 2 * len(self.arg_names)
        err = values[end:]
        error = None
        if err[0] == _h.ERR_OUT_OF_BOUNDS:
            param = err[1]
            error = LoopError("out_of_bounds", self.arg_names[param], tuple(err[4:4 + err[3]]),
                              tuple(np.shape(args[param])), self.filename, err[2])
        elif err[0] == _h.ERR_STEP_LIMIT:
            error = LoopError("step_limit", "", (), (), self.filename, err[2])
        return LoopResult(dict(zip(OP_KINDS, values[:n])), tuple(values[n:end:2]),
                          tuple(values[n + 1:end:2]), error)


def compile_loop(pyfunc) -> CompiledLoop:
    """Transform ``pyfunc`` into a :class:`CompiledLoop` (raises LoopCompileError early)."""
    if isinstance(pyfunc, CompiledLoop):
        return pyfunc
    return CompiledLoop(pyfunc)
