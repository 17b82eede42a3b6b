"""Compiling a custom operator's files against our headers: runtime, shape and kernel builds.

* the runtime objects: one per gpsimd_sim/cpp/runtime/*.cpp (compiled at once, in
  parallel), built once per compiler and shared by every build.
* the shape executable: shape.cpp (NEURON_LIBRARY and the shape functions) + the runtime.
  It lists the library's operators and computes output shapes; its answers are cached.
* the kernel executable: one translation unit made of the kernel file as it is (under a
  ``#line`` directive, so diagnostics and debug information name the user's file and lines)
  followed by generated glue (``GS_KERNEL(name)`` per kernel function), instrumented, linked
  with the runtime; then analysed (analysis.py) into the block table the runtime loads.

A ``buffer_size`` override rewrites the initializer of the kernel's
``static constexpr size_t buffer_size = N;`` in the generated translation unit (same lines),
so each buffer size is its own cached build.
"""
from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import KernelLoadError
from . import analysis
from .toolchain import (COMMON_FLAGS, INCLUDE_DIR, LINK_FLAGS, RUNTIME_DIR, RUNTIME_FLAGS,
                        SHAPE_FLAGS, BuildDir, Compiler, build_key, first_error, run_tool,
                        runtime_hash, runtime_sources, simulator_hash, tools_present)


def _compile(compiler: Compiler, flags: list[str], source: Path, obj: Path, what: str,
             display: dict[str, str], fallback: str):
    res = run_tool([compiler.path, *flags, "-I", str(INCLUDE_DIR), "-c", str(source), "-o",
                    str(obj)], what, cwd=obj.parent)
    if res.returncode != 0:
        msg = first_error(res.stderr, display)
        if not any(msg.startswith(shown + ":") for shown in display.values()):
            msg = f"{fallback}: {msg}"
        raise KernelLoadError(f"{msg} ({compiler.label})")


def _link(compiler: Compiler, objs: list[Path], exe: Path, what: str, display, fallback: str,
          extra: list[str] = ()):
    res = run_tool([compiler.path, *map(str, objs), "-o", str(exe), *LINK_FLAGS, *extra], what,
                   cwd=exe.parent)
    if res.returncode != 0:
        raise KernelLoadError(f"{fallback}: cannot link the kernel: "
                              f"{first_error(res.stderr, display)} ({compiler.label})")


def runtime_objects(compiler: Compiler) -> list[Path]:
    """The runtime's objects for this compiler, one per runtime/*.cpp (cached)."""
    sources = runtime_sources()
    key = build_key("runtime", runtime_hash(), compiler.path, compiler.version,
                    compiler.machine, RUNTIME_FLAGS, [p.name for p in sources])
    bd = BuildDir("rt", key)
    if bd.ready:
        return [bd.final / f"{src.stem}.o" for src in sources]
    tmp = bd.start()
    display = {str(p.resolve()): f"runtime/{p.name}" for p in RUNTIME_DIR.iterdir()}

    def one(src: Path):
        return run_tool([compiler.path, "-std=gnu++17", "-fno-pie", *RUNTIME_FLAGS, "-c",
                         str(src), "-o", str(tmp / f"{src.stem}.o")],
                        "compiling the simulator's C++ runtime")
    try:
        with ThreadPoolExecutor(max_workers=min(len(sources), max(2, os.cpu_count() or 2))) as pool:
            results = list(pool.map(one, sources))
        for res in results:
            if res.returncode != 0:
                raise KernelLoadError("cannot compile gpsimd_sim's C++ runtime with "
                                      f"{compiler.label}: {first_error(res.stderr, display)}")
        final = bd.commit()
        return [final / f"{src.stem}.o" for src in sources]
    finally:
        bd.abandon()


@dataclass
class ShapeBuild:
    dir: Path
    ops: list[dict]     # {library, name, kernel, kinds}

    @property
    def exe(self) -> Path:
        return self.dir / "shape"


def _shape_key(compiler: Compiler, text: str) -> str:
    # by content: identical shape files in several folders share one build
    return build_key("shape", simulator_hash(), compiler.path, compiler.version,
                     compiler.machine, SHAPE_FLAGS, text)


def shape_build(compiler: Compiler, shape_path: Path, display: str,
                runtime: "list[Path] | callable") -> ShapeBuild:
    text = shape_path.read_text(errors="replace")
    bd = BuildDir("s", _shape_key(compiler, text))
    if not bd.ready:
        tmp = bd.start()
        try:
            tu = tmp / "shape_tu.cpp"
            tu.write_text(f'#line 1 "{shape_path.resolve()}"\n{text}\n')
            _compile(compiler, [*SHAPE_FLAGS, *COMMON_FLAGS], tu, tmp / "shape.o",
                     "compiling the shape function",
                     {str(shape_path.resolve()): display}, display)
            rt = runtime() if callable(runtime) else runtime
            _link(compiler, [tmp / "shape.o", *rt], tmp / "shape", "linking the shape function",
                  {str(shape_path.resolve()): display}, display)
            (tmp / "list.req").write_text("mode list\n")
            res = run_tool([str(tmp / "shape"), str(tmp / "list.req")], "listing operators",
                           timeout=60)
            if res.returncode != 0:
                raise KernelLoadError(f"{display}: the shape library failed to load: "
                                      f"{(res.stderr or res.stdout).strip()[:300]}")
            ops = []
            for line in res.stdout.splitlines():
                parts = line.split("\t")
                if parts[0] == "op" and len(parts) == 5:
                    ops.append({"library": parts[1], "name": parts[2], "kernel": parts[3],
                                "kinds": parts[4]})
            (tmp / "ops.json").write_text(json.dumps(ops))
            bd.commit()
        finally:
            bd.abandon()
    return ShapeBuild(bd.final, json.loads((bd.final / "ops.json").read_text()))


@dataclass
class KernelBuild:
    dir: Path
    compiler: str

    @property
    def exe(self) -> Path:
        return self.dir / "kernel"

    @property
    def table(self) -> Path:
        return self.dir / "table.txt"

    def blocks(self) -> list[dict]:
        return json.loads((self.dir / "blocks.json").read_text())

    def ranges(self) -> list[tuple[int, int]]:
        return [tuple(r) for r in json.loads((self.dir / "meta.json").read_text())["ranges"]]


def kernel_unit(kernel_path: Path, text: str, kernels: list[str]) -> str:
    """The translation unit: the kernel file as it is, then the glue that registers kernels."""
    glue = "".join(f"GS_KERNEL({k})\n" for k in kernels)
    return (f'#line 1 "{kernel_path.resolve()}"\n{text}\n'
            f'#line 1 "{analysis.GLUE_FILE}"\n#include <gpsimd_sim/gs_glue.h>\n{glue}')


def kernel_build(compiler: Compiler, kernel_path: Path, text: str, kernels: list[str],
                 display: str, fallback_line: int, runtime) -> KernelBuild:
    unit = kernel_unit(kernel_path, text, kernels)
    flags = compiler.kernel_flags()
    key = build_key("kernel", simulator_hash(), compiler.path, compiler.version,
                    compiler.machine, flags, LINK_FLAGS, unit)
    bd = BuildDir("k", key)
    if bd.ready:
        return KernelBuild(bd.final, compiler.label)
    tools_present()
    tmp = bd.start()
    try:
        tu = tmp / "kernel_tu.cpp"
        tu.write_text(unit)
        real = str(kernel_path.resolve())
        _compile(compiler, flags, tu, tmp / "kernel.o", "compiling the kernel",
                 {real: display}, f"{display}:{fallback_line}")
        rt = runtime() if callable(runtime) else runtime
        _link(compiler, [tmp / "kernel.o", *rt], tmp / "kernel", "linking the kernel",
              {real: display}, display, [f"-Wl,-Map={tmp / 'link.map'}"])
        table = analysis.analyse(tmp / "kernel", tmp / "link.map", "kernel.o", real)
        table.write(tmp / "table.txt")
        (tmp / "blocks.json").write_text(json.dumps(
            [{"line": b["line"], "func": table.funcs[b["func"]] if b["func"] >= 0 else "",
              "ops": b["ops"]} for b in table.blocks]))
        (tmp / "meta.json").write_text(json.dumps(
            {"compiler": compiler.label, "kernels": kernels, "ranges": table.text_ranges}))
        for junk in ("kernel.o", "link.map"):
            try:
                os.unlink(tmp / junk)
            except OSError:
                pass
        return KernelBuild(bd.commit(), compiler.label)
    finally:
        bd.abandon()


def build_all(compiler: Compiler, kernel_job, shape_job):
    """Run the kernel and shape builds at once (and the runtime once, for both)."""
    rt_result: list = []

    def runtime():
        if not rt_result:
            rt_result.append(runtime_objects(compiler))
        return rt_result[0]

    jobs = [j for j in (shape_job, kernel_job) if j is not None]
    if len(jobs) == 1:
        return [jobs[0](runtime)]
    # the runtime is built first (both links need it) while the two compilers run
    with ThreadPoolExecutor(max_workers=3) as pool:
        rt_future = pool.submit(runtime)
        futures = [pool.submit(job, lambda: rt_future.result()) for job in jobs]
        results, error = [], None
        for f in futures:
            try:
                results.append(f.result())
            except KernelLoadError as exc:
                error = error or exc
                results.append(None)
        if error is not None:
            raise error
        return results


def run_shape(build: ShapeBuild, op: str, arg_lines: list[str], display: str,
              status_path: Path, req_path: Path):
    req_path.write_text("mode shape\n" f"op {op}\n" f"status {status_path}\n"
                        f"display {display}\n" + "".join(l + "\n" for l in arg_lines))
    try:
        return subprocess.run([str(build.exe), str(req_path)], capture_output=True, text=True,
                              timeout=60, errors="replace")
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelLoadError(f"{display}: cannot run the shape function: {exc}") from None
