"""Running a compiled kernel in a child process and reading back its records and output.

The child is the kernel executable itself: a wild pointer, an abort, a stack overflow or an
endless loop ends only the child. The parent writes the inputs and a request into a private
temporary folder, waits (with the wall-time limit), then reads the shared status page (the
fault message, or the signal and the last kernel block), the records and the output tensor.
"""
from __future__ import annotations

import shutil
import signal
import struct
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, KernelFault, SimulationLimit
from ..records import (Alloc, Compute, CoreTrace, Dma, ElementRun, Fill, Free, OP_CLASSES,
                       StreamAccess, StreamTransfer, TensorOp)

# c10::ScalarType codes <-> NumPy dtypes
_CODES = {"uint8": 0, "int8": 1, "int16": 2, "int32": 3, "int64": 4, "float16": 5,
          "float32": 6, "float64": 7, "bool": 11, "bfloat16": 15}
_NAMES = {v: k for k, v in _CODES.items()}
SUPPORTED = ("float32", "bfloat16", "float16", "int32", "int64", "int16", "int8", "uint8")

STATUS_FORMAT = "<8s4i3Q2i16Q4000s"
STATUS_BYTES = 8192
PRINTF_BUFFER_BYTES = 131072  # NEURON_RT_GPSIMD_STDOUT_QUEUE_SIZE_BYTES at most (API reference)


def dtype_code(dtype) -> int:
    name = np.dtype(dtype).name
    if name not in SUPPORTED:
        raise ConfigError(f"dtype {name} is not one of the custom-operator API's "
                          f"({', '.join(SUPPORTED)})")
    return _CODES[name]


def numpy_dtype(code: int) -> np.dtype:
    name = _NAMES.get(code, "float32")
    if name == "bfloat16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


@dataclass
class Status:
    state: int
    core: int
    last_block: int
    signal: int
    fault_addr: int
    fault_pc: int
    api_pc: int
    stack_overflow: int
    frames: list
    message: str


def read_status(path: Path) -> Status:
    raw = path.read_bytes()[:struct.calcsize(STATUS_FORMAT)]
    (magic, state, core, last_block, sig, fault_addr, fault_pc, api_pc, overflow, nframes,
     *rest) = struct.unpack(STATUS_FORMAT, raw)
    frames, message = list(rest[:16])[:max(0, min(nframes, 16))], rest[16]
    if not magic.startswith(b"GSSTAT"):
        state, last_block = -1, -1
    return Status(state, core, last_block, sig, fault_addr, fault_pc, api_pc, overflow, frames,
                  message.split(b"\0", 1)[0].decode(errors="replace"))


def new_status_file(path: Path) -> None:
    path.write_bytes(b"\0" * STATUS_BYTES)


def arg_lines(params, args, folder: Path | None, display: str, op: str) -> list[str]:
    """The request's ``arg`` lines; tensors are written to files in ``folder`` (if given)."""
    if len(args) != len(params):
        names = ", ".join(n for n, _ in params)
        raise ConfigError(f"{display}: {op}({names}) takes {len(params)} argument(s), "
                          f"{len(args)} given")
    lines = []
    for i, ((name, kind), a) in enumerate(zip(params, args)):
        if kind == "tensor":
            if not isinstance(a, np.ndarray):
                raise ConfigError(f"{display}: argument {name} of {op} is a tensor; got "
                                  f"{type(a).__name__}")
            code = dtype_code(a.dtype)
            if a.ndim > 8:
                raise ConfigError(f"{display}: argument {name} has {a.ndim} dimensions; "
                                  "custom operators take at most 8")
            file = "-"
            if folder is not None:
                file = str(folder / f"in{i}.bin")
                np.ascontiguousarray(a).tofile(file)
            lines.append(f"arg t {name} {code} {a.ndim} " +
                         "".join(f"{s} " for s in a.shape) + file)
        else:
            if isinstance(a, np.ndarray) and a.ndim == 0:
                a = a.item()
            if isinstance(a, (bool, np.bool_)):
                a = int(a)
            if not isinstance(a, (int, float, np.integer, np.floating)):
                raise ConfigError(f"{display}: argument {name} of {op} is a {kind}; got "
                                  f"{type(a).__name__}")
            if kind == "double":
                lines.append(f"arg d {name} {float(a)!r}")
            elif kind == "int64":
                if isinstance(a, (float, np.floating)) and float(a) != int(a):
                    raise ConfigError(f"{display}: argument {name} of {op} is an int64_t; got {a!r}")
                lines.append(f"arg i {name} {int(a)}")
            else:
                if isinstance(a, (int, np.integer)):
                    lines.append(f"arg s {name} i {int(a)}")
                else:
                    lines.append(f"arg s {name} d {float(a)!r}")
    return lines


def parse_records(text: str, source: str) -> list[CoreTrace]:
    traces: list[CoreTrace] = []
    trace = None
    for line in text.splitlines():
        f = line.split("\t")
        tag = f[0]
        if tag == "CORE":
            trace = CoreTrace(int(f[1]), source=source)
            trace.tcm_peak_bytes, trace.malloc_failures, trace.steps = map(int, f[2:5])
            traces.append(trace)
        elif tag == "C":
            ops = {k: int(v) for k, v in zip(OP_CLASSES, f[1:10])}
            trace.records.append(Compute(ops, int(f[10]), int(f[11]), int(f[12]), f[15],
                                         int(f[14]), f[13] == "1"))
        elif tag == "E":
            trace.records.append(ElementRun(int(f[1]), int(f[2]), int(f[3])))
        elif tag == "D":
            trace.records.append(Dma(f[1], f[2], *map(int, f[3:9])))
        elif tag == "T":
            trace.records.append(StreamTransfer(f[1], f[2], *map(int, f[3:9])))
        elif tag == "S":
            trace.records.append(StreamAccess(*map(int, f[1:5])))
        elif tag == "F":
            trace.records.append(Fill(f[1], int(f[2]), int(f[3])))
        elif tag == "O":
            trace.records.append(TensorOp(f[1], *map(int, f[2:7])))
        elif tag == "A":
            trace.records.append(Alloc(int(f[1]), int(f[2]), f[3] == "1", int(f[4])))
        elif tag == "R":
            trace.records.append(Free(int(f[1]), int(f[2]), int(f[3])))
    return traces


def read_tensor(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    fields = [int(x) for x in head.split()]
    dtype = numpy_dtype(fields[0])
    shape = tuple(fields[2:2 + fields[1]])
    return np.frombuffer(body, dtype=dtype, count=int(np.prod(shape, dtype=np.int64))
                         ).reshape(shape).copy()


_SIGNAL_WHAT = {
    "SIGSEGV": "invalid memory access",
    "SIGBUS": "bus error (misaligned or unmapped memory)",
    "SIGFPE": "arithmetic exception (an integer division by zero?)",
    "SIGILL": "illegal instruction",
    "SIGABRT": "aborted",
    "SIGTRAP": "trap",
    "SIGKILL": "killed",
}


@dataclass
class ChildResult:
    output: np.ndarray
    traces: list[CoreTrace]
    printed: str


def run_child(exe: Path, request: list[str], folder: Path, *, display: str, timeout_s,
              line_of_pc, block_lines: Callable[[], list[int]]) -> ChildResult:
    """Run the kernel executable; every failure is one KernelFault / SimulationLimit line.

    ``block_lines()`` gives each block's kernel line (read only when a run fails)."""
    status_path = folder / "status"
    new_status_file(status_path)
    req = folder / "request"
    req.write_text("".join(l + "\n" for l in request) + f"status {status_path}\n"
                   f"records {folder / 'records'}\noutput {folder / 'output'}\n"
                   f"display {display}\n")
    with open(folder / "stdout", "wb") as out, open(folder / "stderr", "wb") as err:
        try:
            proc = subprocess.Popen([str(exe), str(req)], stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL, cwd=folder)
        except OSError as exc:
            raise KernelFault(f"{display}: cannot start the compiled kernel: {exc}") from None
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            st = read_status(status_path)
            line = _block_line(st, block_lines) or line_of_pc(st.api_pc)
            raise SimulationLimit(f"{display}:{line}: core {st.core}: the kernel did not finish "
                                  f"within {timeout_s:g} s of wall time (--timeout)") from None
    st = read_status(status_path)
    stderr = (folder / "stderr").read_bytes().decode(errors="replace")
    if st.state in (2, 3):
        raise (SimulationLimit if st.state == 3 else KernelFault)(st.message)
    if rc < 0 or st.signal:
        sig = -rc if rc < 0 else st.signal
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        what = _SIGNAL_WHAT.get(name, "")
        if name == "SIGSEGV":
            what = ("stack overflow: unbounded recursion or too large a local array"
                    if st.stack_overflow else f"invalid memory access at 0x{st.fault_addr:x}")
        if name == "SIGABRT":
            said = [l.strip() for l in stderr.splitlines() if l.strip()]
            if said:
                what = f"aborted: {said[-1][:300]}"
        # the faulting instruction, else the innermost kernel frame of the backtrace (a crash
        # inside a library call), else the last basic block the kernel entered
        line = line_of_pc(st.fault_pc, exact=True)
        for pc in st.frames:
            if line:
                break
            line = line_of_pc(pc)
        line = line or _block_line(st, block_lines) or line_of_pc(st.api_pc)
        raise KernelFault(f"{display}:{line}: core {st.core}: the kernel crashed with {name}"
                          f"{' (' + what + ')' if what else ''}")
    if rc != 0 or st.state != 1:
        said = (stderr.strip().splitlines() or ["no message"])[-1]
        raise KernelFault(f"{display}: the simulator's C++ runtime failed (exit {rc}): {said}")
    records = (folder / "records").read_text()
    printed = (folder / "stdout").read_bytes()
    if len(printed) > PRINTF_BUFFER_BYTES:  # the device's printf buffer keeps the newest data
        printed = printed[-PRINTF_BUFFER_BYTES:]
    return ChildResult(read_tensor(folder / "output"), parse_records(records, display),
                       printed.decode(errors="replace"))


def _block_line(st: Status, block_lines: Callable[[], list[int]]) -> int:
    if st.last_block < 0:
        return 0
    lines = block_lines()
    return lines[st.last_block] if st.last_block < len(lines) else 0


def private_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="gpsimd_cpp_run_"))


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
