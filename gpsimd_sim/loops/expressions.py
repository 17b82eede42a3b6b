"""Lowering of @loop expressions (and element accesses) into counted straight-line code.

Each ``_expr_*`` method emits the statements an expression needs (bounds checks, counter
bumps, conditional parts as ``if`` blocks, fault checks) and returns what remains: a
side-effect-free expression over names, literals and checked element reads. The
statement lowering (``lowering.Lowering``) builds on this class.
"""
from __future__ import annotations

import ast
import math

from . import abi
from .abi import OP_KINDS
from .emit import Emitter, name, src
from .language import (CALLABLE_HINT, EXPR_HINTS, INT_FAULT_OPS, MATH_CONSTS, MAX_DIMS,
                       NP_CONSTS, PREFIX, Free, binop_kind, builtin_call_kind, classify,
                       lookup, module_call_kind)
from .source import Source

COUNTER = {kind: f"{PREFIX}n_{kind}" for kind in OP_KINDS}   # local counter variables


def literal(value) -> ast.expr:
    """Source literal for a frozen constant (negatives as unary minus, for safe precedence)."""
    if isinstance(value, bool):
        return ast.Constant(value)
    if isinstance(value, float) and math.isnan(value):
        return ast.Attribute(ast.Name(f"{PREFIX}math", ast.Load()), "nan", ast.Load())
    if isinstance(value, float) and math.isinf(value):
        node = ast.Attribute(ast.Name(f"{PREFIX}math", ast.Load()), "inf", ast.Load())
    else:
        node = ast.Constant(abs(value))
    if value < 0 or (isinstance(value, float) and math.copysign(1.0, value) < 0):
        return ast.UnaryOp(ast.USub(), node)
    return node


def indices(n: int) -> str:
    return "1 index" if n == 1 else f"{n} indices"


def _nonzero_literal(node: ast.expr) -> bool:
    """A literal divisor that cannot fault: a float, or a nonzero integer (signed or not)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and (isinstance(node.value, float) or node.value != 0))


class ExpressionLowering(Emitter):
    """State shared by the lowering of one function, and the lowering of its expressions.

    ``params``: positional parameter names; ``locals``: names the function assigns;
    ``array_params``: parameters the source uses as arrays; ``half``: float16 array
    parameters (passed as uint16 views).
    """

    def __init__(self, src: Source, params: tuple[str, ...], local_names: set[str],
                 array_params: set[str], half: set[str]):
        super().__init__()
        self.src = src
        self.params = params
        self.pindex = {p: i for i, p in enumerate(params)}
        self.locals = local_names
        self.array_params = array_params
        self.half = half
        self.ndim: dict[str, tuple[int, int]] = {}     # param -> (indices, first line)
        self.array_line: dict[str, int] = {}
        self.scalar_line: dict[str, int] = {}
        self.imports: set[str] = set()
        self.consts: dict[str, object] = {}
        counters = [COUNTER[k] for k in OP_KINDS]
        for p in params:
            counters += [self._load_counter(p), self._store_counter(p)]
        self.counters = counters
        self.counters_tuple = "(" + ", ".join(counters) + ",)"

    # -- faults and counters -------------------------------------------------------------

    def _fail(self, kind: int, param: int, line: int, index: list[ast.expr]) -> None:
        values = [src(i) for i in index] + ["0"] * (MAX_DIMS - len(index))
        self._emit(f"{PREFIX}fail({PREFIX}c, {self.counters_tuple}, {kind}, {param}, {line}, "
                   f"{len(index)}, {', '.join(values)})", line)
        self._emit("return", line)

    @staticmethod
    def _load_counter(param: str) -> str:
        return f"{PREFIX}ld_{param}"

    @staticmethod
    def _store_counter(param: str) -> str:
        return f"{PREFIX}st_{param}"

    # -- names ---------------------------------------------------------------------------

    def _free(self, node: ast.Name) -> Free:
        found, value = lookup(self.src.pyfunc, node.id)
        if not found:
            raise self.src.error(node, f"name '{node.id}' is not defined (globals a @loop "
                                       "function uses must be defined before it)")
        free = classify(node.id, value)
        if isinstance(free, str):
            raise self.src.error(node, free)
        return free

    def _import(self, alias: str, free: Free) -> None:
        if free.kind == "module":
            self.imports.add(f"import {free.value}" if alias == free.value
                             else f"import {free.value} as {alias}")
        elif free.kind == "func":
            module, attr = free.value
            self.imports.add(f"from {module} import {attr}" if alias == attr
                             else f"from {module} import {attr} as {alias}")

    def _is_user_name(self, ident: str) -> bool:
        return ident in self.pindex or ident in self.locals

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
            raise self.src.error(node, f"subscript of '{src(base)}' is not supported: only "
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
            raise self.src.error(node, f"'{param}' is indexed with {indices(len(index))} here "
                                       f"but with {indices(seen[0])} on line {seen[1]}")
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
            k_src = src(k)
            if not (isinstance(k, ast.Constant) and isinstance(k.value, int) and k.value >= 0):
                conds.append(f"{k_src} < 0")
            conds.append(f"{k_src} >= {param}.shape[{dim}]")
        with self._block(f"if {' or '.join(conds)}:", line):
            self._fail(abi.ERR_OUT_OF_BOUNDS, self.pindex[param], line, index)

    def _load(self, param: str, index: list[ast.expr], line: int) -> ast.expr:
        """Check and count a load; return the (side-effect-free) element expression."""
        self._check_bounds(param, index, line)
        self._inc(self._load_counter(param), line)
        key = index[0] if len(index) == 1 else ast.Tuple(index, ast.Load())
        element = ast.Subscript(name(param), key, ast.Load())
        if param in self.half:
            return ast.Call(name(f"{PREFIX}h2f"), [element], [])
        return element

    def _write(self, param: str, index: list[ast.expr], value: ast.expr, line: int) -> None:
        """Store into an element whose index has been checked."""
        self._inc(self._store_counter(param), line)
        text = src(value)
        if param in self.half:
            text = f"{PREFIX}f2h({text})"
        self._emit(f"{param}[{', '.join(map(src, index))}] = {text}", line)

    # -- expressions: each returns a side-effect-free expression -------------------------

    def _expr(self, node: ast.expr) -> ast.expr:
        kind = type(node).__name__
        handler = getattr(self, f"_expr_{kind}", None)
        if handler is None:
            raise self.src.error(node, EXPR_HINTS.get(kind, f"{kind} expressions are not supported"))
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
            return literal(free.value)
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
                consts = MATH_CONSTS if free.value == "math" else NP_CONSTS
                if node.attr in consts:
                    self._import(base.id, free)
                    return node
                if module_call_kind(free.value, node.attr):
                    raise self.src.error(node, f"'{src(node)}' can only be called")
        raise self.src.error(node, f"attribute access '{src(node)}' is not supported")

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
        line = self.src.line(node)
        left = self._expr(node.left)
        right = self._expr(node.right)
        if isinstance(node.op, INT_FAULT_OPS):
            left, right = self._int_div_check(left, right, line)
        self._inc(COUNTER[binop_kind(node.op)], line)
        return ast.BinOp(left, node.op, right)

    def _int_div_check(self, left: ast.expr, right: ast.expr, line: int):
        """Stop the loop before ``left // right`` or ``left % right`` divides integers by
        zero (numba would quietly give 0). Returns the operands, evaluated once."""
        if _nonzero_literal(right):
            return left, right
        left, right = self._simple(left, line), self._simple(right, line)
        with self._block(f"if {PREFIX}idz({src(left)}, {src(right)}):", line):
            self._fail(abi.ERR_DIV_ZERO, -1, line, [])
        return left, right

    def _expr_UnaryOp(self, node):
        operand = node.operand
        if (isinstance(node.op, (ast.USub, ast.UAdd)) and isinstance(operand, ast.Constant)
                and isinstance(operand.value, (int, float)) and not isinstance(operand.value, bool)):
            return node                  # a negative literal is not an operation
        value = self._expr(operand)
        self._inc(COUNTER["arith"], self.src.line(node))
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
        self._inc(COUNTER["arith"], line)
        test = result if isinstance(node.op, ast.And) else f"not {result}"
        with self._block(f"if {test}:", line):
            self._emit(f"{result} = {src(self._expr(node.values[k]))}", line)
            self._boolop_rest(node, k + 1, result, line)

    def _expr_Compare(self, node):
        line = self.src.line(node)
        for op in node.ops:
            if isinstance(op, (ast.In, ast.NotIn, ast.Is, ast.IsNot)):
                raise self.src.error(node, "'in' and 'is' comparisons are not supported")
        left = self._expr(node.left)
        if len(node.ops) == 1:
            right = self._expr(node.comparators[0])
            self._inc(COUNTER["compares"], line)
            return ast.Compare(left, node.ops, [right])
        # a < b < c: b is evaluated once, and b < c runs (and counts) only if a < b.
        right = self._simple(self._expr(node.comparators[0]), line)
        self._inc(COUNTER["compares"], line)
        result = self._temp(ast.Compare(left, node.ops[:1], [right]), line)
        self._chain_rest(node, 1, right, result.id, line)
        return result

    def _chain_rest(self, node: ast.Compare, k: int, prev: ast.expr, result: str, line: int):
        if k == len(node.ops):
            return
        with self._block(f"if {result}:", line):
            right = self._simple(self._expr(node.comparators[k]), line)
            self._inc(COUNTER["compares"], line)
            self._emit(f"{result} = {src(ast.Compare(prev, [node.ops[k]], [right]))}", line)
            self._chain_rest(node, k + 1, right, result, line)

    def _expr_IfExp(self, node):
        line = self.src.line(node)
        test = self._expr(node.test)
        self._inc(COUNTER["selects"], line)
        with self._captured() as body_code:
            body = self._expr(node.body)
        with self._captured() as else_code:
            orelse = self._expr(node.orelse)
        if not body_code and not else_code:     # both sides pure: LLVM can use a select
            return ast.IfExp(test, body, orelse)
        result = self._fresh()
        with self._block(f"if {src(test)}:", line):
            self._out.extend(body_code)
            self._emit(f"{result} = {src(body)}", line)
        with self._block("else:", line):
            self._out.extend(else_code)
            self._emit(f"{result} = {src(orelse)}", line)
        return name(result)

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
                raise self.src.error(node, f"{src(node.func)}() takes one argument")
            return ast.Call(name(f"{PREFIX}h2f"),
                            [ast.Call(name(f"{PREFIX}f2h"), args, [])], [])
        if kind in COUNTER:
            self._inc(COUNTER[kind], line)
        return ast.Call(node.func, args, [])

    def _callee(self, func: ast.expr) -> str:
        """Classify a callee: a counting class ("calls", "divs", "pows", "transcendentals"),
        "free", "half" or "len"; anything else is refused."""
        hint = f"call to '{src(func)}' is not supported: {CALLABLE_HINT}"
        if isinstance(func, ast.Name):
            if self._is_user_name(func.id):
                raise self.src.error(func, hint)
            free = self._free(func)
            if free.kind == "builtin":
                kind = builtin_call_kind(func.id)
                if kind == "range":
                    raise self.src.error(func, "range() is supported only as the iterable "
                                               "of a for loop")
                return kind
            if free.kind == "func":
                self._import(func.id, free)
                return module_call_kind(*free.value)
        elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
              and not self._is_user_name(func.value.id)):
            free = self._free(func.value)
            kind = module_call_kind(free.value, func.attr) if free.kind == "module" else None
            if kind:
                self._import(func.value.id, free)
                return kind
        raise self.src.error(func, hint)
