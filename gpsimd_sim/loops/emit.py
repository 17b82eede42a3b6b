"""Generated code as a tree of lines that remember the user line they came from.

The lowering appends to the current block through an :class:`Emitter`; ``render`` turns
the tree into indented source lines paired with user lines (for the line map that turns
numba errors and faults back into the user's file and line).
"""
from __future__ import annotations

import ast
from contextlib import contextmanager
from dataclasses import dataclass

from .language import PREFIX


@dataclass
class Line:
    text: str
    line: int


@dataclass
class Inc:
    """``counter += n``; consecutive bumps of one counter are merged."""
    counter: str
    n: int
    line: int


@dataclass
class Block:
    header: str
    body: list
    line: int


def render(items: list, depth: int, out: list[tuple[str, int]]) -> None:
    """Append ``items`` to ``out`` as (indented text, user line) pairs."""
    pad = "    " * depth
    for item in items:
        if isinstance(item, Block):
            out.append((pad + item.header, item.line))
            render(item.body or [Line("pass", item.line)], depth + 1, out)
        elif isinstance(item, Inc):
            out.append((f"{pad}{item.counter} += {item.n}", item.line))
        else:
            out.append((pad + item.text, item.line))


def src(node: ast.expr) -> str:
    return ast.unparse(node)


def name(ident: str) -> ast.Name:
    return ast.Name(ident, ast.Load())


class Emitter:
    """Appends generated statements to the block being filled."""

    def __init__(self):
        self.body: list = []
        self._out = self.body
        self._ntemp = 0

    def _emit(self, text: str, line: int) -> None:
        self._out.append(Line(text, line))

    def _inc(self, counter: str, line: int, n: int = 1) -> None:
        last = self._out[-1] if self._out else None
        if isinstance(last, Inc) and last.counter == counter:
            last.n += n
        else:
            self._out.append(Inc(counter, n, line))

    @contextmanager
    def _block(self, header: str, line: int):
        block = Block(header, [], line)
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

    def _fresh(self) -> str:
        self._ntemp += 1
        return f"{PREFIX}t{self._ntemp}"

    def _temp(self, value: ast.expr, line: int) -> ast.Name:
        """Evaluate ``value`` now into a fresh temporary."""
        ident = self._fresh()
        self._emit(f"{ident} = {src(value)}", line)
        return name(ident)

    def _simple(self, value: ast.expr, line: int) -> ast.expr:
        """``value`` if it is a name or literal, else a temporary holding it."""
        if isinstance(value, (ast.Name, ast.Constant)):
            return value
        return self._temp(value, line)
