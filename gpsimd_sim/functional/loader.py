"""Load a kernel file: import it as a module and find its ``@kernel`` entry point."""
from __future__ import annotations

import hashlib
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..errors import KernelLoadError, SimError
from ..loops import LoopCompileError


@dataclass
class LoadedKernel:
    path: str            # as the user wrote it, for messages
    filename: str        # absolute, as code objects see it
    module: ModuleType
    fn: object
    spec: object         # api.KernelSpec
    default_buffer_size: int | None = None

    @property
    def name(self) -> str:
        return self.fn.__name__

    def set_buffer_size(self, n: int | None) -> None:
        """Override the module's BUFFER_SIZE constant (``--buffer-size``)."""
        if n is None:
            if self.default_buffer_size is not None:
                self.module.BUFFER_SIZE = self.default_buffer_size
            return
        if n <= 0:
            raise KernelLoadError(f"--buffer-size {n}: must be a positive number of elements")
        if not hasattr(self.module, "BUFFER_SIZE"):
            raise KernelLoadError(f"--buffer-size {n}: {self.path} has no BUFFER_SIZE constant")
        self.module.BUFFER_SIZE = int(n)


def user_line(tb, filename: str) -> int:
    """Innermost line of ``filename`` in a traceback (0 if the file is not on it)."""
    line = 0
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


_cache: dict[tuple, LoadedKernel] = {}


def load_kernel(path: str) -> LoadedKernel:
    """Import the kernel file; every failure is a one-line KernelLoadError naming the file."""
    p = Path(path)
    if not p.exists():
        raise KernelLoadError(f"{path}: no such kernel file")
    if p.is_dir():
        raise KernelLoadError(f"{path}: is a directory, not a kernel file")
    if not os.access(p, os.R_OK):
        raise KernelLoadError(f"{path}: cannot read kernel file (permission denied)")
    filename = str(p.resolve())
    try:
        source = p.read_bytes()
    except OSError as exc:
        raise KernelLoadError(f"{path}: cannot read kernel file ({exc.strerror})") from None
    key = (filename, hashlib.sha256(source).hexdigest())
    if key in _cache:
        return _cache[key]
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else path
        raise KernelLoadError(f"{where}: syntax error: {exc.msg}") from None
    except ValueError as exc:
        raise KernelLoadError(f"{path}: cannot compile: {exc}") from None
    mod_name = f"gpsimd_kernel_{p.stem}_{key[1][:12]}"
    module = ModuleType(mod_name)
    module.__file__ = filename
    sys.modules[mod_name] = module  # inspect.getsource of @loop functions needs it
    try:
        exec(code, module.__dict__)
    except SimError as exc:
        sys.modules.pop(mod_name, None)
        raise KernelLoadError(str(exc)) from None
    except LoopCompileError as exc:  # already "file:line: what": name the file as the user did
        sys.modules.pop(mod_name, None)
        raise KernelLoadError(str(exc).replace(filename, path, 1)) from None
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is reported
        sys.modules.pop(mod_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        line = user_line(exc.__traceback__, filename)
        raise KernelLoadError(f"{path}:{line}: error while importing the kernel: "
                              f"{type(exc).__name__}: {exc}") from None
    kernels = [v for v in vars(module).values()
               if callable(v) and hasattr(v, "__gpsimd_kernel__")
               and getattr(v, "__module__", None) == mod_name]
    if not kernels:
        raise KernelLoadError(f"{path}: no kernel function (mark the entry point with @kernel)")
    if len(kernels) > 1:
        names = ", ".join(k.__name__ for k in kernels)
        raise KernelLoadError(f"{path}: more than one @kernel function ({names})")
    fn = kernels[0]
    loaded = LoadedKernel(path, filename, module, fn, fn.__gpsimd_kernel__,
                          getattr(module, "BUFFER_SIZE", None))
    _cache[key] = loaded
    return loaded
