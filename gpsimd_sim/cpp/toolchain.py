"""The host C++ compiler, the build cache, and running the compiler.

Builds are cached under ``$GPSIMD_SIM_CACHE_DIR/cpp`` (default ``~/.cache/gpsimd_sim/cpp``),
a folder only its owner can read, in subfolders named by a hash of everything a build
depends on: the sources, our headers and runtime, the flags, the compiler's identity and
version, and the simulator's analysis code. A second run of the same kernel compiles nothing.
Builds are made in a temporary folder and renamed into place, so concurrent runs (a parallel
sweep) never see half a build.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..cachefiles import base_dir, write_atomic
from ..errors import KernelLoadError

HERE = Path(__file__).resolve().parent
INCLUDE_DIR = HERE / "include"
RUNTIME_DIR = HERE / "runtime"  # the runtime: every .cpp there, and its internal headers

# What every kernel translation unit is compiled with. The instrumentation: ThreadSanitizer's
# compile-time pass (a call before every load and store) and trace-pc coverage (a call at every
# basic block), linked against our own hooks instead of the sanitizer runtimes.
COMMON_FLAGS = ["-std=gnu++17", "-fno-pie", "-Wno-narrowing", "-fdiagnostics-color=never",
                "-fno-diagnostics-show-caret", "-fmessage-length=0"]
GCC_KERNEL_FLAGS = ["-O2", "-g", "-fsanitize=thread", "-fsanitize-coverage=trace-pc",
                    "--param=tsan-instrument-func-entry-exit=0",
                    "-fno-optimize-sibling-calls", "-fno-reorder-blocks-and-partition"]
CLANG_KERNEL_FLAGS = ["-O2", "-g", "-fsanitize=thread", "-fsanitize-coverage=trace-pc",
                      "-mllvm", "-tsan-instrument-func-entry-exit=0",
                      "-fno-optimize-sibling-calls"]
SHAPE_FLAGS = ["-O0", "-g0"]
RUNTIME_FLAGS = ["-O0", "-g0", "-Wall"]
LINK_FLAGS = ["-no-pie", "-Wl,--wrap=memcpy,--wrap=memmove,--wrap=memset", "-lm"]


def cache_root() -> Path:
    """``$GPSIMD_SIM_CACHE_DIR/cpp`` or ``~/.cache/gpsimd_sim/cpp``, created mode 0700."""
    root = base_dir() / "cpp"
    if not root.is_dir():
        try:
            root.mkdir(parents=True, mode=0o700, exist_ok=True)
            os.chmod(root, 0o700)
        except OSError as exc:
            raise KernelLoadError(f"cannot create the C++ build cache {root}: {exc.strerror}") from None
    return root


@dataclass(frozen=True)
class Compiler:
    path: str
    family: str        # "gcc" or "clang"
    version: str       # e.g. "12.2.0"
    machine: str

    @property
    def label(self) -> str:
        return f"{'g++' if self.family == 'gcc' else 'clang++'} {self.version}"

    def kernel_flags(self) -> list[str]:
        return COMMON_FLAGS + (GCC_KERNEL_FLAGS if self.family == "gcc" else CLANG_KERNEL_FLAGS)


_compiler: Compiler | None = None


def find_compiler() -> Compiler:
    """g++ (or clang++ when there is no g++; ``$GPSIMD_SIM_CXX`` picks one)."""
    global _compiler
    if _compiler is not None:
        return _compiler
    wanted = os.environ.get("GPSIMD_SIM_CXX")
    candidates = [wanted] if wanted else ["g++", "clang++"]
    for name in candidates:
        path = shutil.which(name) if name else None
        if path:
            _compiler = _identify(path)
            return _compiler
    raise KernelLoadError(
        "no C++ compiler found (looked for " + " and ".join(c for c in candidates if c) +
        "): install one to run C++ kernels, e.g. `apt-get install g++` (Debian/Ubuntu) or "
        "`dnf install gcc-c++`, or point GPSIMD_SIM_CXX at it")


def _identify(path: str) -> Compiler:
    """Family and version, remembered per compiler binary (path, size, mtime) in the cache."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = hashlib.sha256(f"{path}|{real}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    memo = cache_root() / f"compiler-{key}.json"
    try:
        d = json.loads(memo.read_text())
        return Compiler(path, d["family"], d["version"], d["machine"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
        version = subprocess.run([path, "-dumpfullversion"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
        machine = subprocess.run([path, "-dumpmachine"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelLoadError(f"cannot run the C++ compiler {path}: {exc}") from None
    family = "clang" if "clang" in out.lower() else "gcc"
    if not version:
        m = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
        version = m.group(1) if m else "unknown"
    memo_text = json.dumps({"family": family, "version": version, "machine": machine})
    write_atomic(memo, lambda fh: fh.write(memo_text))
    return Compiler(path, family, version, machine)


def tools_present() -> None:
    for tool in ("objdump", "addr2line"):
        if not shutil.which(tool):
            raise KernelLoadError(f"{tool} not found: install binutils to run C++ kernels "
                                  "(e.g. `apt-get install binutils`)")


_hashes: dict = {}


def _hash_files(kind: str, paths) -> str:
    if kind not in _hashes:
        h = hashlib.sha256()
        for p in sorted(paths):
            h.update(str(p.relative_to(HERE)).encode())
            h.update(p.read_bytes())
        _hashes[kind] = h.hexdigest()
    return _hashes[kind]


def runtime_sources() -> list[Path]:
    """The runtime's translation units (gpsimd_sim/cpp/runtime/*.cpp), in name order."""
    return sorted(RUNTIME_DIR.glob("*.cpp"))


def runtime_hash() -> str:
    """Hash of the runtime's sources and headers: a change rebuilds the runtime objects."""
    return _hash_files("runtime", [*runtime_sources(), *RUNTIME_DIR.glob("*.h"),
                                   *(INCLUDE_DIR / "gpsimd_sim").glob("*.h")])


def simulator_hash() -> str:
    """Hash of our headers, runtime and the build and analysis code: a change rebuilds."""
    return _hash_files("all", [p for p in HERE.rglob("*") if p.is_file()
                               and p.suffix in (".h", ".hpp", ".cpp")
                               or p.name in ("analysis.py", "builder.py", "toolchain.py")])


def build_key(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


class BuildDir:
    """A cached build folder: ``ready`` when complete; otherwise build in ``tmp`` and commit."""

    def __init__(self, kind: str, key: str):
        self.final = cache_root() / f"{kind}-{key}"
        self.tmp: Path | None = None

    @property
    def ready(self) -> bool:
        return (self.final / "done").exists()

    def start(self) -> Path:
        self.tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_root()))
        return self.tmp

    def commit(self) -> Path:
        (self.tmp / "done").write_text("")
        try:
            os.rename(self.tmp, self.final)
        except OSError:  # another process finished the same build first
            shutil.rmtree(self.tmp, ignore_errors=True)
            if not self.ready:
                raise
        self.tmp = None
        return self.final

    def abandon(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


_C_LOCALE = {**os.environ, "LC_ALL": "C"}  # ASCII quotes in the compiler's messages


def run_tool(cmd: list[str], what: str, cwd: Path | None = None, timeout: float = 300):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout,
                              errors="replace", env=_C_LOCALE)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelLoadError(f"{what}: cannot run {cmd[0]}: {exc}") from None


_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?:fatal )?error:\s*(?P<msg>.*)$")


def first_error(stderr: str, display: dict[str, str]) -> str:
    """``file:line: error`` of the compiler's first error, the file named as the user knows it.

    ``display`` maps absolute paths to the names to show. An error inside our headers is
    reported at the user's line that led there ("required from" / "In file included from").
    """
    lines = stderr.splitlines()
    for i, text in enumerate(lines):
        m = _ERROR.match(text)
        if not m:
            continue
        path, line, msg = m.group("file"), m.group("line"), m.group("msg").strip()
        shown = _shown(path, display)
        if shown is None:
            # inside our headers or the generated glue: find the user's line in the context
            for ctx in lines[:i][::-1] + lines[i + 1:]:
                for cm in re.finditer(r"([^\s:]+):(\d+):(?:\d+:)?\s*(?:required|In|note|from)", ctx):
                    user = _shown(cm.group(1), display)
                    if user is not None:
                        return f"{user}:{cm.group(2)}: {msg}"
            return msg  # the caller names the kernel function's line
        return f"{shown}:{line}: {msg}"
    for text in lines:  # a linker error, or something else
        if "error" in text or "undefined reference" in text:
            return text.strip()
    return (lines[0].strip() if lines else "the compiler failed without a message")


def _shown(path: str, display: dict[str, str]) -> str | None:
    real = os.path.realpath(path)
    if real in display:
        return display[real]
    if path in display:
        return display[path]
    return None
