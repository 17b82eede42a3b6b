"""A place where user code cannot take the simulator down with it: a forked child process.

The functional stage runs the user's kernel; the kernel may call ``sys.exit`` or
``os._exit``, start a thread that never ends, ignore SIGALRM, allocate all the memory there
is, or crash the interpreter. User code runs in a child under a memory limit; results come
back through a pipe; the parent enforces the wall-time limit itself (a kernel cannot disarm
it) and turns any death of the child into one line. What the child prints (a kernel's
``print``) is captured and returned, never mixed into the simulator's own output.

Two shapes: ``Worker`` is a long-lived child serving many requests (its numba dispatchers
and kernel modules stay loaded, so a model or a calibration pays one start-up, not one per
kernel call); it dies with its parent and is replaced after a kernel kills it.
``run_in_child`` forks once for one call (for a function that exists only in this process,
such as a ``@kernel`` defined in a notebook).
"""
from __future__ import annotations

import atexit
import os
import pickle
import resource
import select
import signal
import struct
import sys
import tempfile
import threading
import time

from .errors import KernelFault, SimError, SimulationLimit, WallTimeLimit

DEFAULT_MEMORY_BYTES = 8 << 30   # address space a kernel run may take (--max-memory)
_HEADER = struct.Struct("<Q")


class ChildDied(KernelFault):
    """The child running user code ended without a result (exit, signal, memory)."""


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _child(fn, args, kwargs, memory_bytes, write_fd, out_path) -> None:
    """A one-call child's whole life: run, send the result, leave without cleanup."""
    try:
        _enter_child(memory_bytes, out_path)
        result = _call(fn, args, kwargs, memory_bytes)
        sys.stdout.flush()
        _send(write_fd, result)
    finally:
        os._exit(0)


def _limit_memory(memory_bytes) -> None:
    if memory_bytes:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        soft = memory_bytes if hard < 0 else min(memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def die_with_parent() -> None:
    """Linux: the kernel ends this process when its parent dies (no orphan workers)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def become_child() -> None:
    """A forked helper (a kernel's child, a sweep's worker): it dies with its parent, leaves
    Ctrl-C to the parent (which reports and cleans up), and ends at once on SIGTERM."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _enter_child(memory_bytes, capture: str) -> None:
    """Set up a child that runs user code: ``become_child``, the memory limit, and what the
    kernel prints going to the file ``capture``."""
    become_child()
    _limit_memory(memory_bytes)
    out = os.open(capture, os.O_WRONLY | os.O_TRUNC)
    os.dup2(out, 1)


def _new_capture() -> str:
    """An empty file for what a child prints (the caller removes it)."""
    capture = tempfile.NamedTemporaryFile(prefix="gpsimd_sim_out_", delete=False)
    capture.close()
    return capture.name


def _result(data: bytes, printed: str):
    """A child's ("ok", value) as (value, printed text); its ("error", exc) raised here."""
    kind, value = pickle.loads(data)
    if kind == "error":
        raise value
    return value, printed


def _send(fd: int, obj) -> None:
    try:
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result
        payload = pickle.dumps(("error", KernelFault(f"the result cannot be sent back: {exc}")))
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _call(fn, args, kwargs, memory_bytes):
    """Run ``fn``; every outcome as ("ok", value) or ("error", SimError)."""
    try:
        return ("ok", fn(*args, **kwargs))
    except SimError as exc:
        return ("error", exc)
    except MemoryError:
        return ("error", KernelFault("the kernel ran out of memory (--max-memory "
                                     f"{(memory_bytes or 0) / (1 << 30):g} GiB)"))
    except BaseException as exc:  # noqa: BLE001 - reported, never raised in the child
        return ("error", KernelFault(f"internal error in the functional stage: "
                                     f"{type(exc).__name__}: {exc}"))


class Worker:
    """A long-lived child that runs ``fn(*args)`` requests; see the module docstring."""

    def __init__(self, memory_bytes: int | None = DEFAULT_MEMORY_BYTES):
        self.memory_bytes = memory_bytes
        self.owner = os.getpid()   # a forked copy of this object is not this process's
        req_r, self.req_w = os.pipe()
        self.resp_r, resp_w = os.pipe()
        self.capture = _new_capture()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self.req_w)
            os.close(self.resp_r)
            self._serve(req_r, resp_w)
        os.close(req_r)
        os.close(resp_w)

    def _serve(self, req_r: int, resp_w: int) -> None:
        try:
            _enter_child(self.memory_bytes, self.capture)
            while True:
                request = _read_message(req_r)
                if request is None:        # the parent has gone: so do we
                    break
                fn, args, kwargs = request
                os.ftruncate(1, 0)
                os.lseek(1, 0, os.SEEK_SET)
                result = _call(fn, args, kwargs, self.memory_bytes)
                sys.stdout.flush()
                _send(resp_w, result)
        finally:
            os._exit(0)

    def call(self, fn, *args, what: str, timeout_s: float | None = None, **kwargs):
        """``fn(*args, **kwargs)`` in the worker; returns (result, printed text)."""
        _send(self.req_w, (fn, args, kwargs))
        data = _receive(self.resp_r, self.pid, timeout_s, what)
        return _result(data, _read_text(self.capture))

    def abandon(self) -> None:
        """Let go of a worker this process inherited: close our copies of its pipes only."""
        for fd in (self.req_w, self.resp_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        self.abandon()
        _reap(self.pid)
        try:
            os.unlink(self.capture)
        except OSError:
            pass


_worker: Worker | None = None
_worker_lock = threading.Lock()   # one request at a time (a Dask worker runs threads)


def call_in_worker(fn, *args, what: str, timeout_s: float | None = None,
                   memory_bytes: int | None = DEFAULT_MEMORY_BYTES, **kwargs):
    """``fn(*args)`` in this process's worker, started (or replaced) as needed."""
    with _worker_lock:
        return _call_in_worker(fn, *args, what=what, timeout_s=timeout_s,
                               memory_bytes=memory_bytes, **kwargs)


def _call_in_worker(fn, *args, what, timeout_s, memory_bytes, **kwargs):
    global _worker
    if _worker is not None and _worker.owner != os.getpid():
        _worker.abandon()       # inherited through a fork: the parent's worker, not ours
        _worker = None
    if _worker is not None and (_worker.memory_bytes != memory_bytes
                                or not _alive(_worker.pid)):
        _worker.close()
        _worker = None
    if _worker is None:
        _worker = Worker(memory_bytes)
    try:
        return _worker.call(fn, *args, what=what, timeout_s=timeout_s, **kwargs)
    except (ChildDied, SimulationLimit):
        _worker.close()     # killed, or killed by us on the deadline: the next call forks anew
        _worker = None
        raise
    except BrokenPipeError:
        _worker.close()
        _worker = None
        raise ChildDied(f"{what}: the kernel's process had ended before the run started")


def shutdown_worker() -> None:
    """Stop this process's worker (also done at exit)."""
    global _worker
    if _worker is not None:
        if _worker.owner == os.getpid():
            _worker.close()
        _worker = None


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return False


def _read_message(fd: int):
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _read_text(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read(1 << 20).decode(errors="replace")


atexit.register(shutdown_worker)


def run_in_child(fn, *args, what: str, timeout_s: float | None = None,
                 memory_bytes: int | None = DEFAULT_MEMORY_BYTES, **kwargs):
    """``fn(*args, **kwargs)`` in a forked child; returns (result, printed text).

    A SimError raised in the child is raised here; a child that dies, hangs past
    ``timeout_s`` or runs out of memory is a one-line KernelFault naming ``what``.
    """
    return start_in_child(fn, *args, what=what, memory_bytes=memory_bytes,
                          **kwargs).result(timeout_s)


class Started:
    """A forked child running one call (``start_in_child``); ``result()`` waits for it."""

    def __init__(self, pid: int, read_fd: int, capture: str, what: str):
        self.pid, self.read_fd, self.capture, self.what = pid, read_fd, capture, what

    def result(self, timeout_s: float | None = None):
        """(the call's value, what it printed); its SimError raised here; a one-line
        error naming ``what`` if the child died or took longer than ``timeout_s``."""
        try:
            data = _receive(self.read_fd, self.pid, timeout_s, self.what)
        finally:
            printed = self.cancel()
        return _result(data, printed)

    def cancel(self) -> str:
        """Done with the child: it is ended if still running (``_reap``), its pipe closed
        and its capture file removed; returns what it printed."""
        os.close(self.read_fd)
        _reap(self.pid)
        return _read_and_remove(self.capture)


def start_in_child(fn, *args, what: str, memory_bytes: int | None = None,
                   **kwargs) -> Started:
    """``fn(*args, **kwargs)`` started now in a forked child, while this process goes on
    (``run_in_child`` waits at once; the error band's replays share out the machine's
    cores). The child sees this process's memory as it is now; only the value comes back,
    pickled."""
    read_fd, write_fd = os.pipe()
    capture = _new_capture()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _child(fn, args, kwargs, memory_bytes, write_fd, capture)
    os.close(write_fd)
    return Started(pid, read_fd, capture, what)


def _receive(fd: int, pid: int, timeout_s: float | None, what: str) -> bytes:
    """Everything the child sends, or a one-line error once it is gone or too slow."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    chunks, size, need = [], 0, None
    while need is None or size < need:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            raise WallTimeLimit(f"{what}: the kernel did not finish within {timeout_s:g} s of "
                                  "wall time (--timeout)")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise _death(pid, what)
        chunks.append(chunk)
        size += len(chunk)
        if need is None and size >= _HEADER.size:
            need = _HEADER.size + _HEADER.unpack(b"".join(chunks)[:_HEADER.size])[0]
    return b"".join(chunks)[_HEADER.size:need]


def _death(pid: int, what: str) -> ChildDied:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        why = ("killed (out of memory?)" if sig == signal.SIGKILL
               else f"killed by {signal_name(sig)}")
        return ChildDied(f"{what}: the kernel's process was {why} before the run finished")
    code = os.WEXITSTATUS(status)
    return ChildDied(f"{what}: the kernel ended its process (exit status {code}, e.g. "
                     "os._exit) before the run finished: a kernel must return")


def _reap(pid: int) -> None:
    """Make sure the child is gone: a kernel's non-daemon thread must not keep it alive."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _read_and_remove(path: str) -> str:
    try:
        return _read_text(path)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
