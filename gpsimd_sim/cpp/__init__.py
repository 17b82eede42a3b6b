"""The C++ front end: run a user's custom-operator C++ file, unmodified, on the simulated cores.

    from gpsimd_sim.cpp import load_cpp_kernel
    k = load_cpp_kernel("kernels/cpp/neuron-tcm/relu.cpp")       # compiles (cached)
    shape, dtype = k.output_spec([x])
    run = k.execute([x], cores=1, tcm_pool_bytes=16384, buffer_size=None,
                    max_steps=10_000_000, max_iterations=2_000_000_000, timeout_s=600)
    run.output, run.traces, run.printed

Interface (what the command line uses):

``load_cpp_kernel(path, op=None, multicore=None) -> CppKernel``
    Compiles the kernel file with the host's g++ (clang++ if there is no g++;
    ``$GPSIMD_SIM_CXX`` picks one) against our own headers of the custom-operator API
    (gpsimd_sim/cpp/include: ``<torch/torch.h>``, ``<neuron/neuron-utils.hpp>``,
    ``"torchneuron/register.h"``). Beside the kernel it reads:
    ``build.py`` (parsed, never run: ``multicore=`` and ``shape_srcs=`` of ``custom_op.load``)
    and the shape file (``shape_srcs[0]``, else ``shape.cpp``), which is compiled and run to
    list the library's operators (``NEURON_LIBRARY``'s ``m.def(op, &shape_fn, "kernel")``)
    and to give output shapes. ``op`` picks an operator by its registered name (or its kernel
    function's name); default: the only one, else the first registered (without a shape
    file: the function named like the file, else the first function returning a tensor).
    ``multicore`` overrides build.py. Every failure is a one-line ``KernelLoadError``
    (missing file, no compiler, the compiler's first error with file and line).

``CppKernel``
    ``path`` (as given), ``ops`` (registered operator names), ``op`` (the chosen one),
    ``name`` (its kernel function), ``multicore``, ``params`` (list of (name, kind), kind in
    "tensor", "double", "int64", "scalar"), ``buffer_size`` (the kernel's
    ``static constexpr size_t buffer_size`` initializer, or None), ``compiler`` (e.g.
    "g++ 12.2.0"), ``shape_file`` (or None), ``build_dir``.

    ``output_spec(args) -> (shape, numpy dtype)``: from the shape function; without a shape
    file, the first tensor argument's shape and dtype.

    ``execute(args, *, cores, tcm_pool_bytes, buffer_size, max_steps, max_iterations,
    timeout_s, fast_streams=4, stream_buffer_bytes=4096, tcm_align=64, core_order=None)
    -> CppExecution``: runs the kernel
    in a child process on ``cores`` cores (must be 1 for a single-core kernel), each with its
    own ``get_cpu_id()``, TCM pool and records. ``args``: NumPy arrays for tensors (any
    supported dtype; bfloat16 as ``ml_dtypes.bfloat16``) and Python numbers for scalars, in
    parameter order; they are never modified. ``buffer_size`` rebuilds the kernel with its
    ``buffer_size`` initializer replaced (a kernel without one raises KernelLoadError).
    ``max_steps`` bounds API calls and element accesses per core, ``max_iterations`` the
    basic blocks executed per core, ``timeout_s`` the wall time (SimulationLimit);
    ``tcm_align`` is the pool's allocation granule, ``core_order`` a permutation of the cores
    to run them in (the records come back in core order), ``out_spec`` the output's (shape,
    dtype) when the caller already has it. Faults of
    the kernel (out of bounds, race, double free, crash, ...) raise KernelFault, one line
    naming the C++ file and line.

``CppExecution``
    ``output`` (the returned tensor, or get_dst_tensor() for a multicore kernel, as a NumPy
    array), ``traces`` (list of ``records.CoreTrace``, ``source`` = the .cpp path as given),
    ``printed`` (printf output: single core, or core 0 only; the newest 128 KiB).

``gpsimd_sim.cpp.adapter.load_cpp(path, op, multicore)`` wraps a ``CppKernel`` as
``gpsimd_sim.frontend`` expects a kernel (``Param`` parameters, ``execute(args, plan,
out_shape, out_dtype)``, NumPy references for the shipped operators).

How compute work is counted, and how it compares with the Python ports: docs/cpp.md.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, KernelFault, KernelLoadError
from ..records import CoreTrace
from . import analysis, builder, execute, source
from ..cachefiles import write_atomic
from .toolchain import build_key, find_compiler

__all__ = ["load_cpp_kernel", "CppKernel", "CppExecution"]
# Which files are C++ kernels: frontend.CPP_SUFFIXES (read without importing this package).


@dataclass
class CppExecution:
    output: np.ndarray
    traces: list[CoreTrace]
    printed: str


@dataclass
class CppKernel:
    path: str
    ops: list[str]
    op: str
    name: str
    multicore: bool
    params: list[tuple[str, str]]
    buffer_size: int | None
    compiler: str
    shape_file: str | None
    _abs: Path = field(repr=False, default=None)
    _text: str = field(repr=False, default="")
    _buffer_spans: tuple = field(repr=False, default=())
    _kernels: list[str] = field(repr=False, default_factory=list)
    _shape: builder.ShapeBuild | None = field(repr=False, default=None)
    _builds: dict = field(repr=False, default_factory=dict)
    _fn_line: int = field(repr=False, default=0)
    _shape_display: str = field(repr=False, default="")

    # -- builds ---------------------------------------------------------------------------
    def _build(self, buffer_size: int | None) -> builder.KernelBuild:
        if buffer_size is not None:
            if int(buffer_size) <= 0:
                raise KernelLoadError(f"--buffer-size {buffer_size}: must be a positive "
                                      "number of elements")
            if not self._buffer_spans:
                raise KernelLoadError(f"--buffer-size {buffer_size}: {self.path} has no "
                                      "`static constexpr size_t buffer_size = ...;` declaration")
            buffer_size = int(buffer_size)
            if buffer_size == self.buffer_size:
                buffer_size = None
        hit = self._builds.get(buffer_size)
        if hit is not None:
            return hit
        text = self._text if buffer_size is None else source.with_buffer_size(
            self._text, self._buffer_spans, buffer_size)
        compiler = find_compiler()
        b = builder.build_all(compiler, lambda rt: builder.kernel_build(
            compiler, self._abs, text, self._kernels, self.path, self._fn_line, rt), None)[0]
        self._builds[buffer_size] = b
        return b

    @property
    def build_dir(self) -> str:
        return str(self._build(None).dir)

    def blocks(self, buffer_size: int | None = None) -> list[dict]:
        """The kernel's basic blocks: source line, function and op classes of each."""
        return self._build(buffer_size).blocks()

    # -- shapes -----------------------------------------------------------------------------
    def output_spec(self, args) -> tuple[tuple[int, ...], np.dtype]:
        """Output shape and dtype: from the shape function, else the first tensor's."""
        if self._shape is None:
            for (_, kind), a in zip(self.params, args):
                if kind == "tensor" and isinstance(a, np.ndarray):
                    return tuple(a.shape), a.dtype
            raise ConfigError(f"{self.path}: no tensor argument to take the output shape from "
                              "(add a shape.cpp)")
        op = next(o for o in self._shape.ops if o["name"] == self.op)
        params = [(n, k) for (n, _), k in zip(self.params, _kinds(op["kinds"]))] \
            if len(op["kinds"]) == len(self.params) else \
            [(f"arg{i}", k) for i, k in enumerate(_kinds(op["kinds"]))]
        lines = execute.arg_lines(params, args, None, self.path, self.op)
        key = build_key(self.op, *lines)
        memo = self._shape.dir / f"spec-{key}.json"
        try:
            d = json.loads(memo.read_text())
            return tuple(d["shape"]), execute.numpy_dtype(d["dtype"])
        except (OSError, ValueError, KeyError):
            pass
        folder = execute.private_folder()
        try:
            status = folder / "status"
            execute.new_status_file(status)
            res = builder.run_shape(self._shape, self.op, lines, self._shape_display, status,
                                    folder / "request")
            st = execute.read_status(status)
            if st.state in (2, 3):
                raise KernelFault(st.message)
            if res.returncode != 0:
                raise KernelFault(f"{self._shape_display}: the shape function of {self.op} "
                                  f"failed (exit {res.returncode}): "
                                  f"{(res.stderr.strip().splitlines() or [''])[-1]}")
            fields = res.stdout.strip().split("\t")
            if fields[0] != "shape":
                raise KernelFault(f"{self._shape_display}: the shape function of {self.op} "
                                  "gave no shape")
            code, ndim = int(fields[1]), int(fields[2])
            shape = tuple(int(x) for x in fields[3:3 + ndim])
        finally:
            execute.remove_folder(folder)
        memo_text = json.dumps({"shape": shape, "dtype": code})
        write_atomic(memo, lambda fh: fh.write(memo_text))
        return shape, execute.numpy_dtype(code)

    # -- running ----------------------------------------------------------------------------
    def execute(self, args: list, *, cores: int, tcm_pool_bytes: int, buffer_size: int | None,
                max_steps: int, max_iterations: int, timeout_s: float | None,
                fast_streams: int = 4, stream_buffer_bytes: int = 4096, tcm_align: int = 64,
                core_order: list[int] | None = None, out_spec=None) -> CppExecution:
        if not self.multicore and cores != 1:
            raise ConfigError(f"--cores {cores}: {self.path} is a single-core kernel "
                              "(multicore=False); it runs on 1 core")
        if cores < 1:
            raise ConfigError(f"--cores {cores}: must be at least 1")
        build = self._build(buffer_size)
        spec = out_spec if out_spec is not None else (
            self.output_spec(args) if (self.multicore or self._shape is not None) else None)
        folder = execute.private_folder()
        try:
            request = ["mode kernel", f"kernel {self.name}", f"table {build.table}",
                       f"multicore {int(self.multicore)}", f"cores {int(cores)}",
                       f"pool {int(tcm_pool_bytes)}", f"max_steps {int(max_steps)}",
                       f"max_iterations {int(max_iterations)}",
                       f"fast_streams {int(fast_streams)}",
                       f"stream_bytes {int(stream_buffer_bytes)}", f"align {int(tcm_align)}"]
            if core_order is not None:
                if sorted(core_order) != list(range(cores)):
                    raise ConfigError(f"core order {list(core_order)} is not a permutation "
                                      f"of 0..{cores - 1}")
                request.append("order " + " ".join(str(int(c)) for c in core_order))
            if self.multicore:
                shape, dtype = spec
                request.append(f"dst {execute.dtype_code(dtype)} {len(shape)} " +
                               " ".join(str(s) for s in shape))
            request += execute.arg_lines(self.params, args, folder, self.path, self.op)
            result = execute.run_child(
                build.exe, request, folder, display=self.path, timeout_s=timeout_s,
                line_of_pc=lambda pc, exact=False: self._line_of_pc(build, pc, exact),
                block_lines=lambda: [b["line"] for b in build.blocks()])
        finally:
            execute.remove_folder(folder)
        out = result.output
        if spec is not None and not self.multicore and (
                tuple(out.shape) != tuple(spec[0]) or out.dtype != spec[1]):
            raise KernelFault(
                f"{self.path}: {self.name} returned a tensor of sizes {list(out.shape)} "
                f"{out.dtype}, its shape function ({self._shape_display}) says "
                f"{list(spec[0])} {np.dtype(spec[1])}")
        return CppExecution(out, result.traces, result.printed)

    def _line_of_pc(self, build, pc: int, exact: bool = False) -> int:
        """The kernel line of a code address: a return address (the call before it), or
        with ``exact`` the address of an instruction (a faulting one)."""
        if not exact:
            pc -= 1
        if pc <= 0 or not any(lo <= pc < hi for lo, hi in build.ranges()):
            return 0
        found = analysis.resolve_lines(build.exe, [pc], str(self._abs))
        return next(iter(found.values()))[0] if found else 0


def _kinds(code: str) -> list[str]:
    return [{"t": "tensor", "d": "double", "i": "int64", "s": "scalar"}.get(c, "") for c in code]


def load_cpp_kernel(path: str, op: str | None = None, multicore: bool | None = None) -> CppKernel:
    """Load (compile, with a warm cache: look up) a C++ kernel file; see the module doc."""
    p = Path(path)
    if not p.exists():
        raise KernelLoadError(f"{path}: no such kernel file")
    if p.is_dir():
        raise KernelLoadError(f"{path}: is a directory, not a kernel file")
    try:
        text = p.read_text(errors="replace")
    except OSError as exc:
        raise KernelLoadError(f"{path}: cannot read kernel file ({exc.strerror})") from None
    folder = p.parent
    build_py = source.read_build_py(folder / "build.py") if (folder / "build.py").is_file() else None
    shape_path = None
    if build_py and build_py.shape_srcs:
        candidate = folder / build_py.shape_srcs[0]
        if candidate.is_file():
            shape_path = candidate
    if shape_path is None and (folder / "shape.cpp").is_file() and p.name != "shape.cpp":
        shape_path = folder / "shape.cpp"
    if multicore is None:
        multicore = bool(build_py.multicore) if build_py and build_py.multicore is not None else False
    shape_display = str(Path(path).with_name(shape_path.name)) if shape_path else ""

    functions = {f.name: f for f in source.functions(text)}
    compiler = find_compiler()
    bsize = source.buffer_size(text)
    kbuild = None
    shape = None
    if shape_path is not None:
        # the shape library and the kernel compile at once; the kernels to glue are predicted
        # from the m.def lines, then checked against what the library really registers
        shape_text = shape_path.read_text(errors="replace")
        predicted = [k for k in _registered_kernels(shape_text) if k in functions]
        for name in predicted:
            _check_params(path, functions[name])

        def shape_job(rt):
            return builder.shape_build(compiler, shape_path, shape_display, rt)

        def kernel_job(kernels):
            fn_line = next((functions[k].line for k in kernels), 0)
            return lambda rt: builder.kernel_build(compiler, p.resolve(), text, kernels, path,
                                                   fn_line, rt)

        shape, kbuild = builder.build_all(compiler, kernel_job(predicted) if predicted else None,
                                          shape_job) + ([None] if not predicted else [])
        registered = shape.ops
        if not registered:
            raise KernelLoadError(f"{shape_display}: registers no operator (NEURON_LIBRARY "
                                  "with m.def(\"op\", &shape_fn, \"kernel_fn\"))")
        ops = [o["name"] for o in registered]
        chosen = _choose(path, registered, op, p.stem)
        kernels = list(dict.fromkeys(o["kernel"] for o in registered if o["kernel"] in functions))
        if chosen["kernel"] not in functions:
            raise KernelLoadError(
                f"{path}: no kernel function {chosen['kernel']} (operator {chosen['name']} is "
                f"registered by {shape_display} with kernel \"{chosen['kernel']}\"; "
                f"{path} defines {', '.join(functions) or 'no function returning a tensor'})")
        if kernels != predicted:
            kbuild = None
        op_name, kernel_name = chosen["name"], chosen["kernel"]
    else:
        if not functions:
            raise KernelLoadError(f"{path}: no kernel function (a function returning "
                                  "torch::Tensor)")
        names = list(functions)
        if op is not None:
            if op not in functions:
                raise KernelLoadError(f"{path}: no operator {op} (kernel functions: "
                                      f"{', '.join(names)})")
            kernel_name = op
        else:
            kernel_name = p.stem if p.stem in functions else names[0]
        ops = names
        op_name = kernel_name
        # every function a kernel could be (parameters of supported kinds): one build serves
        # any --op of the file
        kernels = [n for n, f in functions.items()
                   if n == kernel_name or all(k for _, k in f.params)]
    fn = functions[kernel_name]
    params = list(fn.params)
    _check_params(path, fn)
    kernel = CppKernel(path=path, ops=ops, op=op_name, name=kernel_name,
                       multicore=bool(multicore), params=params, buffer_size=bsize.default,
                       compiler=compiler.label, shape_file=shape_display or None,
                       _abs=p.resolve(), _text=text, _buffer_spans=bsize.spans,
                       _kernels=kernels, _shape=shape, _fn_line=fn.line,
                       _shape_display=shape_display)
    if kbuild is not None:
        kernel._builds[None] = kbuild
    kernel._build(None)  # compile errors are load errors
    return kernel


def _check_params(path: str, fn) -> None:
    """Said before the glue's static_assert says it less plainly."""
    unsupported = [n for n, k in fn.params if not k]
    if unsupported:
        raise KernelLoadError(f"{path}:{fn.line}: parameter {unsupported[0]} of {fn.name}: "
                              "custom operators take torch::Tensor, torch::Scalar, double or "
                              "int64_t (developer guide)")


def _registered_kernels(shape_text: str) -> list[str]:
    """Kernel names of the m.def(...) lines (a prediction; the shape library decides)."""
    code = shape_text
    found = []
    for m in re.finditer(r'\.def\s*\(\s*"([^"]+)"\s*,\s*&?\s*[\w:]+\s*(?:,\s*"([^"]+)")?', code):
        found.append(m.group(2) or m.group(1))
    return list(dict.fromkeys(found))


def _choose(path: str, registered: list[dict], op: str | None, stem: str) -> dict:
    if op is None:
        return registered[0]
    for o in registered:
        if o["name"] == op:
            return o
    for o in registered:
        if o["kernel"] == op:
            return o
    raise KernelLoadError(f"{path}: no operator {op} (registered: "
                          f"{', '.join(o['name'] for o in registered)})")
