"""Python kernels: a kernel file (or a ``@kernel`` function) and how it runs on the cores.

Loading imports the file as a module and finds its ``@kernel`` entry point. Kernel
parameters travel as data: a run with another ``--buffer-size`` gets its own instance of
the module (the file executed again, then ``BUFFER_SIZE`` set), so two runs in one
process never see each other's constants; instances are cached.
"""
from __future__ import annotations

import hashlib
import os
import sys
import traceback
import types
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from ..api import runtime
from ..api.decorators import KernelSpec
from ..api.tensor import Tensor, find_race, garbage_like, storage
from ..errors import KernelFault, KernelLoadError, SimError
from ..loops import LoopCompileError
from ..wall_clock import wall_limit
from .executor import read_only
from .signature import Param, python_params
from .plan import Execution, ExecPlan


def user_line(tb, filename: str) -> int:
    """Innermost line of ``filename`` in a traceback (0 if the file is not on it)."""
    line = 0
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == filename:
            line = lineno
    return line


@dataclass
class PythonKernel:
    """A Python kernel: its entry point, what ``@kernel`` said, and its parameters."""
    path: str                # as the user wrote it, for messages
    filename: str            # absolute, as code objects see it
    module: ModuleType | None
    fn: object
    spec: KernelSpec
    default_buffer_size: int | None = None
    source_hash: str = ""
    params: list[Param] = field(default_factory=list)
    language: str = "python"

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def multicore(self) -> bool:
        return self.spec.multicore

    def entry(self, buffer_size: int | None):
        """The entry point with ``BUFFER_SIZE`` = ``buffer_size`` (None: the file's own)."""
        if buffer_size is None or buffer_size == self.default_buffer_size:
            return self.fn
        if buffer_size <= 0:
            raise KernelLoadError(f"--buffer-size {buffer_size}: must be a positive number "
                                  "of elements")
        if self.default_buffer_size is None:
            raise KernelLoadError(f"--buffer-size {buffer_size}: {self.path} has no "
                                  "BUFFER_SIZE constant")
        if self.module is None:  # a function handed to simulate(): its globals, overlaid
            g = dict(self.fn.__globals__, BUFFER_SIZE=int(buffer_size))
            return types.FunctionType(self.fn.__code__, g, self.fn.__name__,
                                      self.fn.__defaults__, self.fn.__closure__)
        return _instance(self, int(buffer_size))

    def __reduce__(self):
        # sent to the functional worker (isolation.py) as a reference: the worker loads the
        # file itself; a kernel defined in this process alone cannot be sent
        if self.module is None:
            raise TypeError(f"kernel {self.name} is a function of this process")
        return (_reload, (self.path, self.source_hash))

    def execute(self, args: list, plan: ExecPlan, out_shape, out_dtype) -> Execution:
        """Run the kernel on every core of ``plan``; inputs are not modified."""
        fn = self.entry(plan.buffer_size)
        # no copy: inputs are const tensors (no accessor, transfer or op may write them)
        call = [Tensor(read_only(a), p.name, const=True) if p.is_tensor else a
                for a, p in zip(args, self.params)]
        dst = (Tensor(garbage_like(out_shape, out_dtype), "dst") if self.multicore else None)
        order = plan.order()
        traces, returned, written = {}, None, []
        with wall_limit(plan.timeout_s, self.path):
            for position, core in enumerate(order):
                ctx = runtime.CoreContext(core, plan.cores, self.multicore, plan.tcm_pool_bytes,
                                          self.filename, dst, plan.limits, self.path,
                                          tcm_align=plan.tcm_align,
                                          stream_buffer_bytes=plan.stream_buffer_bytes,
                                          fast_streams=plan.fast_streams)
                ctx.order = position
                ctx.written = written
                runtime.activate(ctx)
                try:
                    returned = fn(*call)
                except SimError:
                    raise
                except LoopCompileError as exc:  # a @loop numba could not type for these
                    raise KernelFault(f"{str(exc).replace(self.filename, self.path, 1)} "
                                      f"(core {core})") from None
                except RecursionError:
                    raise KernelFault(f"{self.path}: core {core}: kernel recursed too "
                                      "deeply") from None
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # noqa: BLE001 - sys.exit, GeneratorExit too
                    line = user_line(exc.__traceback__, self.filename)
                    what = "called sys.exit" if isinstance(exc, SystemExit) else "raised"
                    raise KernelFault(f"{self.path}:{line}: core {core}: kernel {what} "
                                      f"{type(exc).__name__}: {exc}") from None
                finally:
                    runtime.activate(None)
                traces[core] = ctx.finish()
        if self.multicore:
            for t in {id(t): t for t in written + [dst]}.values():
                race = find_race(t, self.path)
                if race is not None:
                    raise race
            output = storage(dst)
        elif not isinstance(returned, Tensor):
            raise KernelFault(f"{self.path}: kernel {self.name} returned "
                              f"{type(returned).__name__}, expected a tensor (single-core "
                              "kernels return their output)")
        else:
            output = storage(returned)
        return Execution(output, [traces[c] for c in range(plan.cores)], "")


_cache: dict[tuple, PythonKernel] = {}
_instances: OrderedDict = OrderedDict()
_INSTANCES = 16


def _exec_module(path: str, filename: str, source: bytes, digest: str, tag: str
                 ) -> ModuleType:
    """Execute a kernel file as a fresh module; every failure is one KernelLoadError line."""
    try:
        code = compile(source, filename, "exec", dont_inherit=True)  # not our __future__
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else path
        raise KernelLoadError(f"{where}: syntax error: {exc.msg}") from None
    except ValueError as exc:
        raise KernelLoadError(f"{path}: cannot compile: {exc}") from None
    mod_name = f"gpsimd_kernel_{Path(filename).stem}_{digest[:12]}{tag}"
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
    return module


def _entry_point(path: str, module: ModuleType):
    kernels = [v for v in vars(module).values()
               if callable(v) and hasattr(v, "__gpsimd_kernel__")
               and getattr(v, "__module__", None) == module.__name__]
    if not kernels:
        raise KernelLoadError(f"{path}: no kernel function (mark the entry point with @kernel)")
    if len(kernels) > 1:
        names = ", ".join(k.__name__ for k in kernels)
        raise KernelLoadError(f"{path}: more than one @kernel function ({names})")
    return kernels[0]


def _params(path: str, fn) -> list[Param]:
    try:
        return python_params(fn)
    except TypeError as exc:
        raise KernelLoadError(f"{path}: kernel {fn.__name__}: {exc}") from None


def _instance(kernel: PythonKernel, buffer_size: int):
    """The kernel's module executed afresh with ``BUFFER_SIZE = buffer_size``."""
    key = (kernel.filename, kernel.source_hash, buffer_size)
    fn = _instances.get(key)
    if fn is None:
        source = Path(kernel.filename).read_bytes()
        module = _exec_module(kernel.path, kernel.filename, source, kernel.source_hash,
                              f"_bs{buffer_size}")
        module.BUFFER_SIZE = buffer_size
        fn = _entry_point(kernel.path, module)
        _instances[key] = fn
        if len(_instances) > _INSTANCES:
            _instances.popitem(last=False)
    else:
        _instances.move_to_end(key)
    return fn


def load_kernel(path: str, display: str | None = None) -> PythonKernel:
    """Import the kernel file; every failure is a one-line KernelLoadError naming the file
    (as ``display`` when given: a shipped kernel found by a short name)."""
    p = Path(path)
    if not p.exists():
        raise KernelLoadError(f"{path}: no such kernel file")
    if p.is_dir():
        raise KernelLoadError(f"{path}: is a directory, not a kernel file")
    if not p.is_file():
        raise KernelLoadError(f"{path}: not a regular file (a FIFO or a device cannot be a "
                              "kernel file)")
    if not os.access(p, os.R_OK):
        raise KernelLoadError(f"{path}: cannot read kernel file (permission denied)")
    filename = str(p.resolve())
    try:
        source = p.read_bytes()
    except OSError as exc:
        raise KernelLoadError(f"{path}: cannot read kernel file ({exc.strerror})") from None
    digest = hashlib.sha256(source).hexdigest()
    name = display or path
    key = (filename, digest, name)
    if key in _cache:
        return _cache[key]
    module = _exec_module(name, filename, source, digest, "")
    fn = _entry_point(name, module)
    loaded = PythonKernel(name, filename, module, fn, fn.__gpsimd_kernel__,
                          getattr(module, "BUFFER_SIZE", None), digest, _params(name, fn))
    _cache[key] = loaded
    return loaded


def _reload(path: str, source_hash: str) -> PythonKernel:
    """The kernel a reference names, loaded in this process; the file must be unchanged."""
    from ..shipped import resolve_path
    kernel = load_kernel(resolve_path(path), display=path)
    if kernel.source_hash != source_hash:
        raise KernelLoadError(f"{path}: the kernel file changed while the simulator ran")
    return kernel


def kernel_from_function(fn) -> PythonKernel:
    """A ``@kernel`` function handed to ``gpsimd_sim.simulate`` directly."""
    spec = getattr(fn, "__gpsimd_kernel__", None)
    if spec is None:
        raise KernelLoadError(f"{getattr(fn, '__name__', fn)!r} is not a @kernel function")
    filename = fn.__code__.co_filename
    g = fn.__globals__
    buffer_size = g.get("BUFFER_SIZE")
    return PythonKernel(filename, filename, None, fn, spec,
                        buffer_size if isinstance(buffer_size, int) else None,
                        params=_params(filename, fn))

