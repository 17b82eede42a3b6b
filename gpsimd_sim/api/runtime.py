"""The core a kernel is running on: its id, its TCM pool, and the record of what it did.

The functional stage runs the kernel once per core, with that core's ``CoreContext`` made
current; every API call a kernel makes reads it through ``current()``.
"""
from __future__ import annotations

import sys
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from ..errors import KernelFault, SimulationLimit
from ..records import CoreTrace, ElementRun


@dataclass(frozen=True)
class Limits:
    """How far a kernel may run before the simulator calls it non-terminating."""
    max_steps: int = 10_000_000          # API calls and interpreted element accesses per core
    max_iterations: int = 2_000_000_000  # compiled-loop iterations per core


class TcmPool:
    """First-fit allocator over one core's ``tcm_malloc`` pool, with real backing bytes.

    Buffers are aligned to the TCM's width (``tcm_width_bytes``: 64 B, one 512-bit line).
    """

    def __init__(self, pool_bytes: int, align: int):
        self.ALIGN = align
        self.pool_bytes = pool_bytes
        self.memory = np.zeros(pool_bytes, dtype=np.uint8)
        self.free_spans = [(0, pool_bytes)]  # (offset, size), sorted by offset
        self.in_use = 0
        self.peak = 0

    def allocate(self, nbytes: int) -> int | None:
        size = max(self.ALIGN, -(-nbytes // self.ALIGN) * self.ALIGN)
        for i, (off, span) in enumerate(self.free_spans):
            if span >= size:
                if span == size:
                    del self.free_spans[i]
                else:
                    self.free_spans[i] = (off + size, span - size)
                self.in_use += size
                self.peak = max(self.peak, self.in_use)
                return off
        return None

    def release(self, offset: int, nbytes: int) -> None:
        size = max(self.ALIGN, -(-nbytes // self.ALIGN) * self.ALIGN)
        self.in_use -= size
        spans = sorted(self.free_spans + [(offset, size)])
        merged = [spans[0]]
        for off, span in spans[1:]:
            last_off, last_span = merged[-1]
            if last_off + last_span == off:
                merged[-1] = (last_off, last_span + span)
            else:
                merged.append((off, span))
        self.free_spans = merged


class CoreContext:
    """State of one simulated core while the kernel runs on it."""

    def __init__(self, core_id: int, core_count: int, multicore: bool, tcm_pool_bytes: int,
                 kernel_file: str, dst=None, limits: Limits = Limits(),
                 display_file: str | None = None, *, tcm_align: int,
                 stream_buffer_bytes: int, fast_streams: int):
        self.core_id = core_id
        self.order = core_id      # the position of this core in the run order (races)
        self.core_count = core_count
        self.multicore = multicore
        self.kernel_file = kernel_file        # absolute: what code objects carry
        self.display_file = display_file or kernel_file  # as the user wrote it
        self.dst = dst
        self.limits = limits
        self.tcm = TcmPool(tcm_pool_bytes, tcm_align)
        self.stream_buffer_bytes = stream_buffer_bytes  # TCM per stream accessor
        self.fast_streams = fast_streams                # buffered streams at once
        self.trace = CoreTrace(core_id, source=self.display_file)
        self.iterations = 0
        self.next_buffer_id = 0   # TCM buffers, numbered in allocation order
        self.next_tensor_id = 0   # tensors the kernel makes (zeros#0, empty#1, ...)
        self.pending_reads = 0   # interpreted element accesses not yet emitted as a run
        self.pending_writes = 0
        self.call_lines = {}         # (id of a kernel-file code object, instruction) -> line
        self._codes = []         # those code objects

    # -- records -----------------------------------------------------------------------
    def emit(self, record) -> None:
        """Append a record, first closing any open run of interpreted element accesses."""
        if self.pending_reads or self.pending_writes:
            self.flush_elements()
        trace = self.trace
        trace.steps += 1
        if trace.steps > self.limits.max_steps:
            self.step(0)   # raises, naming the line
        trace.records.append(record)

    def flush_elements(self) -> None:
        self.trace.records.append(ElementRun(self.pending_reads, self.pending_writes, 0))
        self.pending_reads = self.pending_writes = 0

    def finish(self) -> CoreTrace:
        if self.pending_reads or self.pending_writes:
            self.flush_elements()
        self.trace.tcm_peak_bytes = self.tcm.peak
        return self.trace

    def step(self, n: int = 1) -> None:
        self.trace.steps += n
        if self.trace.steps > self.limits.max_steps:
            raise SimulationLimit(
                f"{self.where()}: core {self.core_id} exceeded {self.limits.max_steps} steps "
                "(API calls and element accesses): the kernel does not finish")

    # -- where in the user's file ----------------------------------------------------------
    def line(self) -> int:
        """Line of the kernel file currently executing (innermost frame in that file)."""
        return self.line_at(sys._getframe(1))

    def line_at(self, frame) -> int:
        """The kernel file's line at ``frame`` or the nearest frame below it in that file
        (an API function passes its caller's frame: usually the kernel itself)."""
        kernel_file = self.kernel_file
        while frame is not None:
            if frame.f_code.co_filename == kernel_file:
                return frame.f_lineno
            frame = frame.f_back
        return 0

    def call_line(self, frame) -> int:
        """``line_at(frame)`` for an API function's caller, remembered per call site in the
        kernel file (``call_lines``, which hot paths read first): finding a frame's line walks
        its code's line table, which cost more than the rest of a TCM transfer's
        bookkeeping (issue 14)."""
        code = frame.f_code
        if code.co_filename != self.kernel_file:
            return self.line_at(frame)
        line = self.call_lines.get((id(code), frame.f_lasti))
        if line is None:
            line = self.call_lines[id(code), frame.f_lasti] = frame.f_lineno
            self._codes.append(code)   # alive while its id is a key: no id is reused
        return line

    def where(self) -> str:
        return f"{self.display_file}:{self.line()}"

    def display(self, filename: str) -> str:
        """A filename as the user knows it."""
        return self.display_file if filename == self.kernel_file else filename

    def fault(self, what: str) -> KernelFault:
        return KernelFault(f"{self.where()}: core {self.core_id}: {what}")


# The core the calling code runs on. A context variable, not a global: two simulations in
# one process (threads of a sweep, a notebook) never see each other's core.
_current: ContextVar[CoreContext | None] = ContextVar("gpsimd_sim_core", default=None)


def current() -> CoreContext:
    ctx = _current.get()
    if ctx is None:
        raise KernelFault("a kernel API was called outside a simulation run "
                          "(run the kernel with `python -m gpsimd_sim run FILE`)")
    return ctx


def current_or_none() -> CoreContext | None:
    return _current.get()


def activate(ctx: CoreContext | None) -> None:
    """Make ``ctx`` the current core of this thread/context (None: no core)."""
    _current.set(ctx)


def get_cpu_id() -> int:
    """This core's id, in [0, get_cpu_count())."""
    return current().core_id


def get_cpu_count() -> int:
    """Number of GPSIMD cores running this kernel (1 unless the kernel is multicore)."""
    return current().core_count


def get_dst_tensor():
    """The operator's output tensor, which multicore kernels write in place."""
    ctx = current()
    ctx.step()
    if not ctx.multicore:
        raise ctx.fault("get_dst_tensor() is for multicore kernels (@kernel(multicore=True)); "
                        "a single-core kernel returns its output")
    return ctx.dst
