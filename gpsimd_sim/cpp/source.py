"""Reading a C++ custom operator's files: kernel functions, buffer size, build.py, shape.cpp.

Only what the simulator needs is read from the text (parameter names, the ``buffer_size``
declaration, build.py's arguments); everything else (which operators a library registers,
their parameter kinds, output shapes) comes from compiling and running the code.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path


def blank_comments_and_strings(text: str) -> str:
    """``text`` with comments and the insides of string and char literals replaced by
    spaces (newlines kept), so that regular expressions see only code, at the same offsets."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + "".join(ch if ch == "\n" else " " for ch in text[i + 1:j - 1])
                       + (text[j - 1] if j - 1 > i else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


@dataclass(frozen=True)
class Function:
    """A function returning a tensor, defined at the top level of a C++ file."""
    name: str
    params: tuple[tuple[str, str], ...]   # (name, kind); kind "" when not a supported kind
    line: int


_FUNCTION = re.compile(
    r"(?:^|(?<=[;}\s]))(?:(?:static|inline|extern)\s+)*(?:::)?(?:torch::|at::)?Tensor\s+"
    r"(\w+)\s*\(([^()]*)\)\s*(?:noexcept\s*)?\{", re.M)


def _split_params(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip() and p.strip() != "void"]


def param_kind(decl_type: str) -> str:
    """The kind of a parameter from its declared type (the compiled glue checks it too)."""
    t = decl_type.replace(" ", "")
    if re.search(r"\bTensor\b", decl_type):
        return "tensor"
    if "Scalar" in t:
        return "scalar"
    if re.search(r"\bdouble\b", decl_type):
        return "double"
    if re.search(r"\bint64_t\b", decl_type):
        return "int64"
    return ""


def functions(text: str) -> list[Function]:
    """Top-level functions returning torch::Tensor, in file order."""
    code = blank_comments_and_strings(text)
    found = []
    for m in _FUNCTION.finditer(code):
        params = []
        for i, p in enumerate(_split_params(m.group(2))):
            p = p.split("=")[0].strip()
            names = re.findall(r"[A-Za-z_]\w*", p)
            if len(names) >= 2 and names[-1] not in ("Tensor", "Scalar", "double", "int64_t"):
                name, decl = names[-1], p[:p.rfind(names[-1])]
            else:
                name, decl = f"arg{i}", p
            params.append((name, param_kind(decl)))
        found.append(Function(m.group(1), tuple(params), code.count("\n", 0, m.start(1)) + 1))
    return found


_BUFFER_SIZE = re.compile(
    r"\bstatic\s+constexpr\s+(?:std::)?size_t\s+buffer_size\s*=\s*([^;]+);")


@dataclass(frozen=True)
class BufferSize:
    """The kernel's ``static constexpr size_t buffer_size = N;`` declarations."""
    spans: tuple[tuple[int, int], ...]   # character spans of each initializer
    default: int | None                   # N when it is a plain integer literal


def buffer_size(text: str) -> BufferSize:
    code = blank_comments_and_strings(text)
    spans, default = [], None
    for m in _BUFFER_SIZE.finditer(code):
        spans.append(m.span(1))
        literal = m.group(1).strip()
        digits = re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", literal)
        if digits and default is None:
            default = int(digits.group(1), 0)
    return BufferSize(tuple(spans), default)


def with_buffer_size(text: str, spans, n: int) -> str:
    """The source with every buffer_size initializer replaced by ``n`` (same lines)."""
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(str(int(n)))
        last = end
    out.append(text[last:])
    return "".join(out)


@dataclass(frozen=True)
class BuildPy:
    """What a ``build.py`` beside the kernel passes to ``custom_op.load``."""
    path: str
    compute_srcs: tuple[str, ...] = ()
    shape_srcs: tuple[str, ...] = ()
    multicore: bool | None = None
    name: str | None = None


def read_build_py(path: Path) -> BuildPy | None:
    """Parse (never run) build.py: it imports torch_neuronx, which the simulator does not need."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        fname = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if fname != "load":
            continue
        kw = {}
        for k in node.keywords:
            try:
                kw[k.arg] = ast.literal_eval(k.value)
            except (ValueError, TypeError, SyntaxError):
                kw[k.arg] = None
        listed = lambda v: tuple(v) if isinstance(v, (list, tuple)) else ((v,) if isinstance(v, str) else ())
        multicore = kw.get("multicore")
        return BuildPy(str(path), listed(kw.get("compute_srcs")), listed(kw.get("shape_srcs")),
                       bool(multicore) if isinstance(multicore, (bool, int)) else None,
                       kw.get("name") if isinstance(kw.get("name"), str) else None)
    return None
