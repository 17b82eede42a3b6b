"""Which front end runs a kernel: a Python kernel file or function, or a C++ source file.

Both front ends give an object with ``path``, ``name``, ``language``, ``multicore``,
``params`` (``functional.signature.Param``), ``default_buffer_size``, a reference (or None)
and ``execute(args, plan, out_shape, out_dtype)``; everything after them (the output
check, timing, bounds, traces, sweeps, bands) cannot tell which one ran.
"""
from __future__ import annotations

from pathlib import Path

from .errors import KernelLoadError
from .functional.loader import PythonKernel, kernel_from_function, load_kernel

CPP_SUFFIXES = (".cpp", ".cc", ".cxx")


def load(kernel, op: str | None = None, multicore: bool | None = None):
    """A kernel from a path (``.py`` or ``.cpp``) or a ``@kernel`` function."""
    if callable(kernel) and not isinstance(kernel, (str, Path)):
        if op is not None:
            raise KernelLoadError(f"--op {op}: a Python kernel has one entry point")
        return kernel_from_function(kernel)
    given = str(kernel)
    path = resolve_kernel(given)
    if path.endswith(CPP_SUFFIXES):
        from .cpp.adapter import load_cpp  # the C++ toolchain only when a C++ kernel runs
        return load_cpp(path, op, multicore)
    if op is not None:
        raise KernelLoadError(f"--op {op}: {path} is a Python kernel, which has one entry "
                              "point (--op picks a function of a C++ library)")
    loaded = load_kernel(path, display=_shipped_name(given, path))
    if multicore is not None and multicore != loaded.multicore:
        raise KernelLoadError(f"{path}: the kernel says multicore={loaded.multicore} "
                              "(@kernel(multicore=...)); it cannot be overridden")
    return loaded


def _shipped_name(given: str, path: str) -> str:
    """How a shipped kernel found by a short name is named in messages: kernels/NAME."""
    if path == given:
        return given
    from .shipped import root
    try:
        return "kernels/" + str(Path(path).relative_to(root() / "kernels"))
    except ValueError:
        return path


def resolve_kernel(path: str) -> str:
    """A kernel file as given if it exists, else a shipped kernel of that name (so that
    ``run relu_tcm`` or ``run kernels/relu_tcm.py`` works from any folder)."""
    if Path(path).exists():
        return path
    from .shipped import find
    return find(path, "kernels") or path


__all__ = ["load", "resolve_kernel", "PythonKernel", "CPP_SUFFIXES"]
