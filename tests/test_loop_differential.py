"""Differential test of the @loop compiler against a counting interpreter.

Hypothesis writes small random @loop functions within the accepted language (nested
for/while/if, int and float arithmetic incl. divisions and powers, comparisons incl.
chained ones, and/or/not, ternaries, calls, element loads and stores on 1-D and 2-D
arrays, augmented and tuple assignments). Each runs twice: compiled by
``gpsimd_sim.loops`` and walked by the interpreter below, which applies the counting
rules of the package docstring directly to the AST and computes with numba's semantics
(int64 wrap-around, IEEE float division by zero, no wrap-around of negative indices).
Outputs, counts, loads/stores and faults must agree exactly.

Programs are statically typed by construction (each variable holds only ints or only
floats), as numba needs; both sides then compute the same values, so any difference is
a lowering or counting bug. Every example is a new numba compilation (~0.2 s), so the
example count is kept modest; derandomised runs (the ``ci`` profile) hit numba's cache
on the second run (the cache is under ``$GPSIMD_SIM_CACHE_DIR`` or
``~/.cache/gpsimd_sim/differential``).
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from gpsimd_sim.loops import OP_KINDS, LoopError, compile_loop

INT_MIN, INT_MAX = -2**63, 2**63 - 1
RUNS = 4                          # input sets per program: compiling costs, running not
A_LEN, B_SHAPE = 5, (3, 4)        # a: float64[5], b: int64[3, 4], o: float64[4]
EXAMPLES = int(os.environ.get("LOOP_DIFFERENTIAL_EXAMPLES", "30"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Where the generated kernel files go; numba's cache stays warm across runs."""
    if "GPSIMD_SIM_CACHE_DIR" in os.environ:
        yield tmp_path_factory.mktemp("differential")
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GPSIMD_SIM_CACHE_DIR",
                  str(Path.home() / ".cache" / "gpsimd_sim" / "differential"))
        yield tmp_path_factory.mktemp("differential")


# ----------------------------------------------------------------------------------------
# Random programs. Each generator returns source text; "i" expressions are ints, "f" floats.

FLOAT_LITERALS = ["0.0", "0.5", "2.0", "3.0", "1.25", "-1.5"]
INT_OPS = ["+", "-", "*", "//", "%"]
FLOAT_OPS = ["+", "-", "*", "/", "//", "%"]
COMPARE_OPS = ["<", "<=", ">", ">=", "==", "!="]
MATH_1 = ["math.sqrt", "math.exp", "math.log", "math.sin", "math.fabs"]
MATH_2 = ["math.hypot", "math.pow", "math.copysign"]


class ProgramWriter:
    """Draws one random @loop function ``f(a, b, o, n, s)``, statement by statement."""

    def __init__(self, draw):
        self.draw = draw
        self.lines: list[str] = []
        self.statements = 0
        self.int_vars = ["n", "k0", "k1"]
        self.float_vars = ["s", "x0", "x1"]

    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def coin(self, p_true: float = 0.5) -> bool:
        return self.draw(st.integers(0, 99)) < p_true * 100

    # -- expressions ---------------------------------------------------------------------

    def int_expr(self, depth: int) -> str:
        kind = self.choice(["lit", "var", "var", "size"] if depth <= 0 else
                           ["lit", "var", "bin", "bin", "unary", "minmax", "ifexp", "load"])
        if kind == "lit":
            return str(self.draw(st.integers(-3, 6)))
        if kind == "var":
            return self.choice(self.int_vars)
        if kind == "size":
            return self.choice(["len(a)", "a.shape[0]", "b.shape[1]"])
        d = depth - 1
        if kind == "bin":
            op = self.choice(INT_OPS)
            return f"({self.int_expr(d)} {op} {self.int_right(op, d)})"
        if kind == "unary":
            op = self.choice(["-", "~", "abs"])
            return f"abs({self.int_expr(d)})" if op == "abs" else f"({op}{self.int_expr(d)})"
        if kind == "minmax":
            return f"{self.choice(['min', 'max'])}({self.int_expr(d)}, {self.int_expr(d)})"
        if kind == "ifexp":
            return f"({self.int_expr(d)} if {self.cond(d)} else {self.int_expr(d)})"
        return self.b_element(d)

    def int_right(self, op: str, depth: int) -> str:
        """The right operand of an int operator: for // and % often a variable, which is
        zero now and then (a loop index on its first iteration), so faults happen."""
        if op in ("//", "%") and self.coin():
            return self.choice(self.int_vars)
        return self.int_expr(depth)

    def float_expr(self, depth: int) -> str:
        kind = self.choice(["lit", "var", "var", "float"] if depth <= 0 else
                           ["lit", "var", "bin", "bin", "mixed", "truediv", "pow", "neg",
                            "call1", "call2", "minmax", "ifexp", "load", "load"])
        if kind == "lit":
            return self.choice(FLOAT_LITERALS)
        if kind == "var":
            return self.choice(self.float_vars)
        if kind == "float":
            return f"float({self.choice(self.int_vars)})"
        d = depth - 1
        if kind == "bin":
            return f"({self.float_expr(d)} {self.choice(FLOAT_OPS)} {self.float_expr(d)})"
        if kind == "mixed":
            return f"({self.int_expr(d)} {self.choice(FLOAT_OPS)} {self.float_expr(d)})"
        if kind == "truediv":
            return f"({self.int_expr(d)} / {self.int_expr(d)})"
        if kind == "pow":
            return f"({self.float_expr(d)} ** {self.choice(['2.0', '0.5', '3.0', '-1.0'])})"
        if kind == "neg":
            return f"(-{self.float_expr(d)})"
        if kind == "call1":
            return f"{self.choice(MATH_1)}({self.float_expr(d)})"
        if kind == "call2":
            return f"{self.choice(MATH_2)}({self.float_expr(d)}, {self.float_expr(d)})"
        if kind == "minmax":
            f = self.choice(["min", "max", "abs"])
            if f == "abs":
                return f"abs({self.float_expr(d)})"
            return f"{f}({self.float_expr(d)}, {self.float_expr(d)})"
        if kind == "ifexp":
            return f"({self.float_expr(d)} if {self.cond(d)} else {self.float_expr(d)})"
        return f"a[{self.index(A_LEN, d)}]"

    def index(self, size: int, depth: int) -> str:
        """Mostly in bounds, sometimes not: a fault is an outcome to compare too."""
        kind = self.choice(["loop", "loop", "lit", "mod", "mod", "any"])
        loops = [v for v in self.int_vars if v.startswith("i")]
        if kind == "loop" and loops:
            return self.choice(loops)
        if kind == "mod":
            return f"({self.int_expr(depth)} % {size})"
        if kind == "any":
            return self.int_expr(depth)
        return str(self.draw(st.integers(0, size)))

    def b_element(self, depth: int) -> str:
        i, j = self.index(B_SHAPE[0], depth), self.index(B_SHAPE[1], depth)
        return f"b[{i}, {j}]" if self.coin() else f"b[{i}][{j}]"

    def cond(self, depth: int) -> str:
        kind = self.choice(["cmp", "cmp", "chain", "truth"] if depth <= 0 else
                           ["cmp", "cmp", "chain", "not", "and", "or", "truth"])
        d = max(depth - 1, 0)
        if kind == "truth":
            return self.choice(self.int_vars)
        if kind == "cmp" or kind == "chain":
            n = 1 if kind == "cmp" else self.draw(st.integers(2, 3))
            parts = [self.operand(d)]
            for _ in range(n):
                parts += [self.choice(COMPARE_OPS), self.operand(d)]
            return "(" + " ".join(parts) + ")"
        if kind == "not":
            return f"(not {self.cond(d)})"
        op = kind
        n = self.draw(st.integers(2, 3))
        return "(" + f" {op} ".join(self.cond(d) for _ in range(n)) + ")"

    def operand(self, depth: int) -> str:
        return self.int_expr(depth) if self.coin() else self.float_expr(depth)

    # -- statements ----------------------------------------------------------------------

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def block(self, indent: int, nest: int, loop: str | None) -> None:
        """A block of one to three statements (``loop``: None, "for" or "while")."""
        for _ in range(self.draw(st.integers(1, 3))):
            self.statement(indent, nest, loop)

    def statement(self, indent: int, nest: int, loop: str | None, kind: str = "") -> None:
        self.statements += 1
        compound = nest < 2 and self.statements < 8
        kinds = ["assign_i", "assign_f", "aug_i", "aug_f", "store_a", "store_b", "aug_a",
                 "aug_b", "swap", "expr"]
        if compound:
            kinds += ["if", "if", "for", "for", "while"]
        if loop:
            kinds += ["break"] + (["continue"] if loop == "for" else [])
        kind = kind or self.choice(kinds)
        d = self.draw(st.integers(1, 2))
        if kind == "assign_i":
            self.emit(indent, f"{self.choice(['k0', 'k1'])} = {self.int_expr(d)}")
        elif kind == "assign_f":
            self.emit(indent, f"{self.choice(['x0', 'x1'])} = {self.float_expr(d)}")
        elif kind == "aug_i":
            op = self.choice(INT_OPS)
            self.emit(indent, f"{self.choice(['k0', 'k1'])} {op}= {self.int_right(op, d)}")
        elif kind == "aug_f":
            self.emit(indent, f"{self.choice(['x0', 'x1'])} {self.choice(FLOAT_OPS)}= "
                              f"{self.float_expr(d)}")
        elif kind == "store_a":
            self.emit(indent, f"a[{self.index(A_LEN, 1)}] = {self.float_expr(d)}")
        elif kind == "store_b":
            self.emit(indent, f"{self.b_element(1)} = {self.int_expr(d)}")
        elif kind == "aug_a":
            self.emit(indent, f"a[{self.index(A_LEN, 1)}] {self.choice(FLOAT_OPS)}= "
                              f"{self.float_expr(d)}")
        elif kind == "aug_b":
            op = self.choice(INT_OPS)
            self.emit(indent, f"{self.b_element(1)} {op}= {self.int_right(op, d)}")
        elif kind == "swap":
            pair = self.choice([("k0", "k1"), ("x0", "x1")])
            self.emit(indent, f"{pair[0]}, {pair[1]} = {pair[1]}, {pair[0]}")
        elif kind == "expr":
            self.emit(indent, f"{self.choice(MATH_1)}({self.float_expr(1)})")
        elif kind in ("break", "continue"):
            self.emit(indent, kind)
        elif kind == "if":
            self.emit(indent, f"if {self.cond(1)}:")
            self.block(indent + 1, nest + 1, loop)
            while self.coin(0.3):
                self.emit(indent, f"elif {self.cond(1)}:")
                self.block(indent + 1, nest + 1, loop)
            if self.coin():
                self.emit(indent, "else:")
                self.block(indent + 1, nest + 1, loop)
        elif kind == "for":
            var = f"i{nest}"
            bounds = [self.int_expr(1)]
            if self.coin(0.4):
                bounds.append(self.int_expr(1))
                if self.coin(0.3):
                    bounds.append(self.choice(["1", "2", "-1"]))
            self.emit(indent, f"for {var} in range({', '.join(bounds)}):")
            self.int_vars.append(var)
            self.block(indent + 1, nest + 1, "for")
            self.int_vars.remove(var)
        else:                                       # while, with a counter that ends it
            var = f"w{nest}"
            self.emit(indent, f"{var} = 0")
            test = f"{var} < {self.int_expr(1)}"
            if self.coin(0.4):
                test = f"{test} {self.choice(['and', 'or'])} {self.cond(0)}"
            self.emit(indent, f"while {test}:")
            self.int_vars.append(var)
            self.block(indent + 1, nest + 1, "while")
            self.emit(indent + 1, f"{var} += 1")
            self.int_vars.remove(var)

    def program(self) -> str:
        self.lines = ["import math", "", "", "def f(a, b, o, n, s):",
                      "    k0 = 1", "    k1 = n", "    x0 = s", "    x1 = 0.5"]
        # a loop first: iterations are what the budget, most faults and counts are about
        self.statement(1, 0, None, self.choice(["for", "while"]))
        while self.statements < 6 and self.coin(0.6):
            self.statement(1, 0, None)
        self.lines += ["    o[0] = x0", "    o[1] = x1", "    o[2] = k0", "    o[3] = k1"]
        return "\n".join(self.lines) + "\n"


@st.composite
def programs(draw) -> str:
    return ProgramWriter(draw).program()


FLOATS = st.one_of(st.floats(-4, 4, width=32).map(float),
                   st.sampled_from([0.0, -0.0, 1.0, np.inf, -np.inf, np.nan]))


@st.composite
def inputs(draw):
    """Arrays, scalars and an iteration budget (small ones make step limits common)."""
    a = np.array(draw(st.lists(FLOATS, min_size=A_LEN, max_size=A_LEN)), dtype=np.float64)
    b = np.array(draw(st.lists(st.integers(-3, 5), min_size=12, max_size=12)),
                 dtype=np.int64).reshape(B_SHAPE)
    return a, b, draw(st.integers(-2, 6)), draw(FLOATS), draw(st.sampled_from([3, 10, 200]))


# ----------------------------------------------------------------------------------------
# The interpreter: numba's arithmetic, the package docstring's counting rules.

class Fault(Exception):
    def __init__(self, kind: str, line: int, arg: str = "", index=(), shape=()):
        super().__init__(kind)
        self.kind, self.line, self.arg, self.index, self.shape = kind, line, arg, index, shape


class Unsupported(Exception):
    """A run numba would not survive (INT_MIN // -1 traps): the example is dropped."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def wrap(v: int) -> int:
    """int64 arithmetic wraps around, as numba's does."""
    return (v - INT_MIN) % 2**64 + INT_MIN


def ieee_div(x: float, y: float) -> float:
    with np.errstate(all="ignore"):
        return float(np.float64(x) / np.float64(y))


def libm(name: str, *args: float) -> float:
    """math.<name> as numba computes it (the same libm), inf/nan where Python raises."""
    try:
        return float(getattr(math, name)(*args))
    except (ValueError, OverflowError):
        fallback = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin,
                    "hypot": np.hypot, "pow": np.power}[name]
        with np.errstate(all="ignore"):
            return float(fallback(*map(np.float64, args)))


CALL_CLASSES = {"abs": "calls", "min": "calls", "max": "calls", "fabs": "calls",
                "copysign": "calls", "sqrt": "transcendentals", "exp": "transcendentals",
                "log": "transcendentals", "sin": "transcendentals", "hypot": "transcendentals",
                "pow": "pows"}
OP_CLASS = {ast.Div: "divs", ast.FloorDiv: "divs", ast.Mod: "divs", ast.Pow: "pows"}


def binop(op: ast.operator, x, y):
    if isinstance(x, int) and isinstance(y, int) and not isinstance(op, (ast.Div, ast.Pow)):
        if isinstance(op, (ast.FloorDiv, ast.Mod)) and x == INT_MIN and y == -1:
            raise Unsupported
        return wrap({ast.Add: x + y, ast.Sub: x - y, ast.Mult: x * y}[type(op)]
                    if isinstance(op, (ast.Add, ast.Sub, ast.Mult))
                    else x // y if isinstance(op, ast.FloorDiv) else x % y)
    x, y = float(x), float(y)
    if isinstance(op, ast.Add):
        return x + y
    if isinstance(op, ast.Sub):
        return x - y
    if isinstance(op, ast.Mult):
        return x * y
    if isinstance(op, ast.Pow):
        return libm("pow", x, y)
    if y == 0:        # IEEE: x/0 for / and //, nan for %
        return ieee_div(x, y) if not isinstance(op, ast.Mod) else math.nan
    return x / y if isinstance(op, ast.Div) else x // y if isinstance(op, ast.FloorDiv) else x % y


def compare(op: ast.cmpop, x, y) -> bool:
    if isinstance(x, float) or isinstance(y, float):    # int converted to float first
        x, y = float(x), float(y)
    return {ast.Lt: x < y, ast.LtE: x <= y, ast.Gt: x > y, ast.GtE: x >= y,
            ast.Eq: x == y, ast.NotEq: x != y}[type(op)]


class Interpreter:
    def __init__(self, fdef: ast.FunctionDef, args: dict, budget: int):
        self.fdef = fdef
        self.vars = dict(args)
        self.ops = dict.fromkeys(OP_KINDS, 0)
        self.loads = dict.fromkeys(args, 0)
        self.stores = dict.fromkeys(args, 0)
        self.budget = budget

    def run(self) -> Fault | None:
        try:
            self.block(self.fdef.body)
        except Fault as fault:
            return fault
        return None

    def block(self, stmts) -> None:
        for stmt in stmts:
            getattr(self, f"s_{type(stmt).__name__}")(stmt)

    def iteration(self, line: int) -> None:
        if self.ops["iterations"] >= self.budget:
            raise Fault("step_limit", line)
        self.ops["iterations"] += 1

    def s_Pass(self, s):
        pass

    def s_Break(self, s):
        raise _Break

    def s_Continue(self, s):
        raise _Continue

    def s_Expr(self, s):
        self.eval(s.value)

    def s_If(self, s):
        test = self.eval(s.test)
        self.ops["branches"] += 1
        self.block(s.body if test else s.orelse)

    def s_For(self, s):
        for value in range(*[self.eval(a) for a in s.iter.args]):
            self.iteration(s.lineno)
            self.vars[s.target.id] = value
            try:
                self.block(s.body)
            except _Break:
                break
            except _Continue:
                continue

    def s_While(self, s):
        while self.eval(s.test):
            self.iteration(s.lineno)
            try:
                self.block(s.body)
            except _Break:
                break
            except _Continue:
                continue

    def s_Assign(self, s):
        (target,) = s.targets
        if isinstance(target, ast.Tuple):              # k0, k1 = k1, k0
            values = [self.eval(v) for v in s.value.elts]
            for t, v in zip(target.elts, values):
                self.vars[t.id] = v
            return
        value = self.eval(s.value)
        if isinstance(target, ast.Name):
            self.vars[target.id] = value
        else:
            arr, idx = self.element(target)
            self.store(arr, idx, value)

    def s_AugAssign(self, s):
        if isinstance(s.target, ast.Name):
            current = self.vars[s.target.id]
            self.vars[s.target.id] = self.apply(s.op, current, self.eval(s.value), s.lineno)
        else:
            arr, idx = self.element(s.target)
            current = self.load(arr, idx)
            self.store(arr, idx, self.apply(s.op, current, self.eval(s.value), s.lineno))

    # -- values --------------------------------------------------------------------------

    def apply(self, op, x, y, line: int):
        if (isinstance(op, (ast.FloorDiv, ast.Mod)) and isinstance(x, int)
                and isinstance(y, int) and y == 0):
            raise Fault("div_zero", line)
        self.ops[OP_CLASS.get(type(op), "arith")] += 1
        return binop(op, x, y)

    def element(self, node: ast.Subscript) -> tuple[str, tuple]:
        """``a[i]``, ``b[i, j]`` or ``b[i][j]``: indices evaluated left to right, then checked."""
        parts, line = [], node.lineno
        while isinstance(node, ast.Subscript):
            s = node.slice
            parts[:0] = s.elts if isinstance(s, ast.Tuple) else [s]
            node = node.value
        name = node.id
        idx = tuple(self.eval(p) for p in parts)
        shape = self.vars[name].shape
        if any(not 0 <= i < n for i, n in zip(idx, shape)):
            raise Fault("out_of_bounds", line, name, idx, shape)
        return name, idx

    def load(self, name: str, idx: tuple):
        self.loads[name] += 1
        v = self.vars[name][idx]
        return float(v) if self.vars[name].dtype.kind == "f" else int(v)

    def store(self, name: str, idx: tuple, value) -> None:
        self.stores[name] += 1
        arr = self.vars[name]
        arr[idx] = float(value) if arr.dtype.kind == "f" else value

    def eval(self, e):
        return getattr(self, f"e_{type(e).__name__}")(e)

    def e_Constant(self, e):
        return e.value

    def e_Name(self, e):
        return self.vars[e.id]

    def e_Subscript(self, e):
        if isinstance(e.value, ast.Attribute):        # a.shape[k]: free
            return self.vars[e.value.value.id].shape[self.eval(e.slice)]
        return self.load(*self.element(e))

    def e_BinOp(self, e):
        x, y = self.eval(e.left), self.eval(e.right)
        return self.apply(e.op, x, y, e.lineno)

    def e_UnaryOp(self, e):
        if isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant):
            return -e.operand.value                     # a negative literal is free
        v = self.eval(e.operand)
        self.ops["arith"] += 1
        if isinstance(e.op, ast.Not):
            return not v
        if isinstance(e.op, ast.Invert):
            return ~v
        return wrap(-v) if isinstance(v, int) else -v

    def e_BoolOp(self, e):
        result = self.eval(e.values[0])
        for value in e.values[1:]:
            self.ops["arith"] += 1                      # one truth test per operand reached
            if bool(result) != isinstance(e.op, ast.And):
                break
            result = self.eval(value)
        return result

    def e_Compare(self, e):
        left = self.eval(e.left)
        for op, comparator in zip(e.ops, e.comparators):
            right = self.eval(comparator)
            self.ops["compares"] += 1
            if not compare(op, left, right):
                return False
            left = right
        return True

    def e_IfExp(self, e):
        test = self.eval(e.test)
        self.ops["selects"] += 1
        return self.eval(e.body if test else e.orelse)

    def e_Call(self, e):
        func = e.func.attr if isinstance(e.func, ast.Attribute) else e.func.id
        if func == "len":
            return self.vars[e.args[0].id].shape[0]
        args = [self.eval(a) for a in e.args]
        if func == "float":
            return float(args[0])
        self.ops[CALL_CLASSES[func]] += 1
        if func in ("min", "max"):
            return min(*args) if func == "min" else max(*args)
        if func == "abs":
            return wrap(abs(args[0])) if isinstance(args[0], int) else abs(args[0])
        return libm(func, *map(float, args))


# ----------------------------------------------------------------------------------------

def load_function(source: str, workdir: Path):
    """Write ``source`` to a file named by its hash (stable across runs, so the generated
    counting variant and numba's cache are too) and import its ``f``."""
    name = f"loopdiff_{hashlib.sha256(source.encode()).hexdigest()[:16]}"
    path = workdir / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.f, path


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(source=programs(), runs=st.lists(inputs(), min_size=RUNS, max_size=RUNS))
def test_compiled_loop_computes_and_counts_like_the_interpreter(workdir, source, runs):
    fdef = ast.parse(source).body[1]
    assert isinstance(fdef, ast.FunctionDef)
    expected = []
    for a, b, n, s, budget in runs:
        state = {"a": a.copy(), "b": b.copy(), "o": np.zeros(4), "n": n, "s": s}
        interp = Interpreter(fdef, state, budget)
        try:
            fault = interp.run()
        except Unsupported:
            reject()
        event(f"outcome: {fault.kind if fault else 'ran to the end'}")
        expected.append((state, interp, fault))

    fn, path = load_function(source, workdir)
    compiled = compile_loop(fn)               # compiled once, run on every input
    for (a, b, n, s, budget), (state, interp, fault) in zip(runs, expected):
        args = [a.copy(), b.copy(), np.zeros(4), n, s]
        result = compiled.run(*args, max_iterations=budget)
        if fault is None:
            assert result.error is None, source
        else:
            assert result.error == LoopError(fault.kind, fault.arg, fault.index, fault.shape,
                                             str(path), fault.line), source
        assert result.ops == interp.ops, source
        assert result.loads == tuple(interp.loads[p] for p in "abons"), source
        assert result.stores == tuple(interp.stores[p] for p in "abons"), source
        for name, got in zip("abo", args):
            np.testing.assert_array_equal(got, state[name], err_msg=source)
