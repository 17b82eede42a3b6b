"""The user's source of a ``@loop`` function: read, parsed, and mapped back to file lines."""
from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass

from .language import LoopCompileError, lookup


@dataclass
class Source:
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


def parse(pyfunc) -> Source:
    """Read and parse the function's source; refuse any decorator but the @loop one."""
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
    src = Source(pyfunc, fdef, filename, start - 1)
    _check_decorators(src)
    fdef.decorator_list = []
    return src


def _check_decorators(src: Source) -> None:
    """Only the @loop decorator itself may decorate a @loop function: the counting variant
    is generated from the source alone, so any other decorator's effect would be lost."""
    seen_loop = False
    for dec in src.fdef.decorator_list:
        if _is_loop_decorator(src.pyfunc, dec) and not seen_loop:
            seen_loop = True
            continue
        raise src.error(dec, f"decorator '@{ast.unparse(dec)}' stacked on a @loop function is "
                             "not supported: the counting variant is generated from the "
                             "source, so it would be silently dropped")


def _is_loop_decorator(pyfunc, dec: ast.expr) -> bool:
    """Whether ``dec`` is gpsimd_sim's ``loop`` (or ``compile_loop``), judged by the object it
    names, or by its spelling when that is not visible from the function (a decorator bound
    in an enclosing function's locals)."""
    spelled = dec.attr if isinstance(dec, ast.Attribute) else getattr(dec, "id", None)
    if spelled not in _LOOP_DECORATORS:
        return False
    path = []
    while isinstance(dec, ast.Attribute):
        path.append(dec.attr)
        dec = dec.value
    if not isinstance(dec, ast.Name):
        return False
    found, value = lookup(pyfunc, dec.id)
    for attr in reversed(path):
        if not found:
            break
        value = getattr(value, attr, None)
        found = value is not None
    if not found:
        return True
    return (getattr(value, "__name__", None) in _LOOP_DECORATORS
            and str(getattr(value, "__module__", "")).startswith("gpsimd_sim."))


_LOOP_DECORATORS = ("loop", "compile_loop")
