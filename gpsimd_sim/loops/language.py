"""What a ``@loop`` function may reference, and which counting class each operation takes.

The accepted language is small on purpose: every construct must have a counting rule
(module docstring of ``gpsimd_sim.loops``) and compile with numba without allocating.
This module holds the whitelists, the hints shown for refused constructs, and the
resolution of free names (globals, closures, builtins) into what the lowering may emit.
"""
from __future__ import annotations

import ast
import builtins
import math
import numbers
from dataclasses import dataclass

import numpy as np

PREFIX = "_gs_"                  # every name the lowering introduces starts with this
MAX_DIMS = 4                     # element accesses index at most this many dimensions
INT64_MAX = 2**63 - 1


class LoopCompileError(Exception):
    """A ``@loop`` function uses something the counting compiler cannot support.

    The message is ``"<file>:<line>: <what is unsupported>"`` on one line.
    """


# ----------------------------------------------------------------------------------------
# Operators. Division-like and power operators are costed apart from cheap arithmetic.

_BINOP_KINDS = {ast.Div: "divs", ast.FloorDiv: "divs", ast.Mod: "divs", ast.Pow: "pows"}
# // and % fault on an integer zero divisor (as in C++); / is true division (IEEE).
INT_FAULT_OPS = (ast.FloorDiv, ast.Mod)


def binop_kind(op: ast.operator) -> str:
    """Counting class of a binary (or augmented) operator: "arith", "divs" or "pows"."""
    return _BINOP_KINDS.get(type(op), "arith")


# ----------------------------------------------------------------------------------------
# Calls. Free: conversions the code generator or the hardware gets for nothing. Each
# counted call takes one class; "calls" is left for the cheap ones (a few instructions).

FREE_BUILTINS = frozenset({"int", "float", "bool"})
COUNTED_BUILTINS = frozenset({"abs", "min", "max", "round"})
ALLOWED_BUILTINS = FREE_BUILTINS | COUNTED_BUILTINS | {"len", "range"}
MATH_CONSTS = frozenset({"pi", "e", "tau", "inf", "nan"})
NP_CONSTS = frozenset({"pi", "e", "inf", "nan", "euler_gamma"})
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
_DIV_FUNCS = frozenset({"fmod", "remainder", "reciprocal", "gcd", "lcm"})
_POW_FUNCS = frozenset({"pow", "power"})
_TRANSCENDENTAL_FUNCS = frozenset({
    "sqrt", "cbrt", "isqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "arcsin", "arccos", "arctan",
    "arctan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "arcsinh", "arccosh",
    "arctanh", "hypot", "dist", "logaddexp", "logaddexp2", "erf", "erfc", "gamma", "lgamma",
})
MODULES = {"math": math, "numpy": np}
CALLABLE_HINT = ("a @loop function may call only abs, min, max, round, int, float, bool, "
                 "math.* and numpy scalar functions")


def _function_kind(attr: str) -> str:
    if attr in _TRANSCENDENTAL_FUNCS:
        return "transcendentals"
    if attr in _POW_FUNCS:
        return "pows"
    if attr in _DIV_FUNCS:
        return "divs"
    return "calls"


def module_call_kind(module: str, attr: str) -> str | None:
    """How a call to ``module.attr`` is counted: a counting class ("calls", "divs", "pows",
    "transcendentals"), "free", "half" (numpy.float16), or None when it is refused."""
    if module == "math":
        if attr in MATH_CONSTS or not callable(getattr(math, attr, None)):
            return None
        return _function_kind(attr)
    if attr == "float16":
        return "half"            # numba has no float16 scalar: emulated by rounding
    if attr in _NP_CASTS:
        return "free"
    if attr in _NP_FUNCS:
        return _function_kind(attr)
    return None


def builtin_call_kind(name: str) -> str:
    """How a call to an allowed builtin is counted: "calls", "free", "len" or "range"."""
    if name in ("len", "range"):
        return name
    return "calls" if name in COUNTED_BUILTINS else "free"


# ----------------------------------------------------------------------------------------
# Refused statements and expressions, with what to do instead.

STMT_HINTS = {
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
EXPR_HINTS = {
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


# ----------------------------------------------------------------------------------------
# Free names: what the function sees besides its parameters and locals.

def lookup(pyfunc, name: str) -> tuple[bool, object]:
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
class Free:
    """A resolved free name. kind: "const", "module", "func" or "builtin"."""
    kind: str
    value: object = None     # the constant; "math"/"numpy"; (module, attr); builtin name


def classify(name: str, value) -> Free | str:
    """Classify a free name's value, or return why it cannot be used."""
    if isinstance(value, (bool, np.bool_)):
        return Free("const", bool(value))
    if isinstance(value, numbers.Integral):
        value = int(value)
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            return f"global '{name}' = {value} does not fit in int64"
        return Free("const", value)
    if isinstance(value, numbers.Real):
        return Free("const", float(value))
    for mod_name, mod in MODULES.items():
        if value is mod:
            return Free("module", mod_name)
    if value is getattr(builtins, name, None) and name in ALLOWED_BUILTINS:
        return Free("builtin", name)
    attr = getattr(value, "__name__", None)
    for mod_name, mod in MODULES.items():
        if attr and getattr(mod, attr, None) is value and module_call_kind(mod_name, attr):
            return Free("func", (mod_name, attr))
    if callable(value):
        return f"call to '{name}' is not supported: {CALLABLE_HINT}"
    return (f"global '{name}' is a {type(value).__name__}; a @loop function may use only "
            "int/float/bool constants, math and numpy")
