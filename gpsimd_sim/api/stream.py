"""Stream accessors: sequential ``read()`` / ``write(v)`` buffered in 4 KiB of the core's TCM.

C++ ``t.read_stream_accessor<T>()`` / ``t.write_stream_accessor<T>()`` (Custom Operators API
reference, "Streaming Accessors"). What the simulator does, and why:

- Each stream takes a 4 KiB buffer from the core's ``tcm_malloc`` pool when it opens and
  gives it back when it closes. A read stream refills its buffer when ``read()`` finds it
  empty; a write stream flushes its buffer when ``write()`` finds it full, and on ``close()``.
  Each refill or flush is one ``StreamTransfer`` record, preceded by one ``StreamAccess``
  record for the elements read from or written into the buffer before it (one TCM load or
  store plus one iteration's bookkeeping each, timed in ``timing/costs.py``): records stay
  one per buffer, never one per element.
- The reference: "only up to 4 active stream accessors will be performant; additional ones
  have performance similar to that of a standard tensor accessor", and 4 x 4 KiB is the whole
  16 KiB pool. Interpreted here as: a stream opened while 4 buffered streams are active on the
  core, or when the pool cannot hold its 4 KiB, is *unbuffered* for its whole life: every
  ``read()`` / ``write()`` is one element-wise access (``ElementRun``), exact but slow.
- A stream is active from opening until ``close()`` or until it goes out of scope, as in C++
  (the destructor closes, and so flushes, a write stream). In Python the object is dropped when
  the kernel returns, at the latest; a stream still open then is closed there, so a forgotten
  ``close()`` loses no data, as in C++.
- Faults (one line naming file, line, core, tensor and element): reading or writing past the
  end, using a closed stream, a stream in a multicore kernel, and opening a stream on a tensor
  that has an active write stream, or a write stream on a tensor with any active stream (the
  C++ default coherence policy, ``COHERENT``, makes these errors).
"""
from __future__ import annotations

import weakref

import numpy as np

from ..records import Alloc, Free, StreamAccess, StreamTransfer
from .runtime import CoreContext, current, current_or_none

# The buffer size and the number of fast streams are the preset's (tcm.stream_buffer_bytes,
# tcm.fast_streams), read from the core's context; this is the trn1 buffer size, for tests.
STREAM_BUFFER_BYTES = 4096   # "each buffered in 4 KiB of TCM" (API reference, TCM Accessor)

# streams not yet closed, per core; weak so that dropping a stream can close it (its __del__)
_ACTIVE: "weakref.WeakKeyDictionary[CoreContext, weakref.WeakSet]" = weakref.WeakKeyDictionary()


def _active(ctx: CoreContext) -> weakref.WeakSet:
    streams = _ACTIVE.get(ctx)
    if streams is None:
        streams = _ACTIVE[ctx] = weakref.WeakSet()
    return streams


def _record(ctx: CoreContext, record, quiet: bool) -> None:
    """Append a record; ``quiet`` (from a destructor) must not raise, so it skips step limits."""
    if not quiet:
        ctx.emit(record)
        return
    if ctx.pending_reads or ctx.pending_writes:
        ctx.flush_elements()
    ctx.trace.records.append(record)


def _charge(stream, line: int, quiet: bool) -> None:
    """Emit the element work done on the stream's buffer since it was last filled or flushed.

    One ``StreamAccess`` per buffer's worth: each ``read()`` / ``write()`` is one
    iteration's bookkeeping plus one TCM load or store, one element at a time.
    """
    done = stream._j
    if done:
        reads, writes = (done, 0) if stream._is_read else (0, done)
        _record(stream._ctx, StreamAccess(reads, writes, stream._buf.itemsize, line), quiet)


class _Stream:
    """What read and write streams share: the tensor, the TCM buffer, opening and closing."""

    __slots__ = ("_ctx", "tensor", "_flat", "_n", "_buf", "_buffer_id", "_tcm_offset",
                 "_cap", "_base", "_j", "_closed", "_open_line", "__weakref__")
    _is_read = True
    _kind = "stream"

    def __init__(self, ctx: CoreContext, tensor, buffered: bool):
        self._closed = True  # until fully opened: a half-made stream must not close itself
        self._ctx = ctx
        self.tensor = tensor
        self._flat = tensor.flat()   # a view: writes reach the tensor
        self._n = self._flat.shape[0]
        self._base = self._j = 0
        self._open_line = ctx.line()
        self._buf = None
        self._buffer_id = self._tcm_offset = -1
        self._cap = 0
        if buffered:
            nbytes = ctx.stream_buffer_bytes
            offset = ctx.tcm.allocate(nbytes)
            if offset is not None:  # otherwise unbuffered: the element-wise path
                self._buffer_id = ctx.next_buffer_id
                ctx.next_buffer_id += 1
                self._tcm_offset = offset
                self._buf = ctx.tcm.memory[offset:offset + nbytes].view(tensor.dtype)
                self._cap = self._buf.shape[0]
                ctx.emit(Alloc(self._buffer_id, nbytes, True, self._open_line))
        self._closed = False
        _active(ctx).add(self)

    @property
    def buffered(self) -> bool:
        """False when this stream goes through the element-wise path (see the module doc)."""
        return self._buf is not None

    def __repr__(self) -> str:
        how = "buffered" if self.buffered else "unbuffered"
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}({self.tensor.name}, {how}, {state})"

    def _fault(self, what: str):
        return self._ctx.fault(f"{what} ({self._kind} of tensor {self.tensor.name}, "
                               f"{self._n} elements, opened at line {self._open_line})")

    def close(self) -> int:
        """Close the stream (a write stream first flushes); closing twice does nothing."""
        if not self._closed:
            self._close(self._ctx.line(), quiet=False)
        return 0

    def _close(self, line: int, quiet: bool) -> None:
        ctx = self._ctx
        if self._buf is not None:
            _charge(self, line, quiet)
            self._drain(line, quiet)
            ctx.tcm.release(self._tcm_offset, ctx.stream_buffer_bytes)
            _record(ctx, Free(self._buffer_id, ctx.stream_buffer_bytes, line), quiet)
        self._closed = True
        self._stop()
        _active(ctx).discard(self)

    def __del__(self):
        # C++: a stream going out of scope is closed. Only while its core is still running:
        # a stream that outlives the kernel (a kept reference) changes nothing afterwards.
        if not self._closed and current_or_none() is self._ctx:
            self._close(self._open_line, quiet=True)

    def _drain(self, line: int, quiet: bool) -> None:
        """What closing does to the buffer's data (a write stream flushes it)."""

    def _stop(self) -> None:
        """Make the fast path fail, so the next call reaches the closed-stream check."""


class ReadStreamAccessor(_Stream):
    """``read()`` returns the tensor's next element in flat order (``TensorReadStreamAccessor``)."""

    __slots__ = ("_filled",)
    _kind = "read stream"

    def __init__(self, ctx: CoreContext, tensor, buffered: bool):
        self._filled = 0  # elements of the buffer holding data; read() refills when j reaches it
        super().__init__(ctx, tensor, buffered)

    def read(self):
        """The next element; the buffer is refilled (one DMA) when it runs out."""
        j = self._j
        if j < self._filled:  # the hot path: a few attribute accesses and one NumPy index
            self._j = j + 1
            return self._buf[j]
        return self._refill_and_read()

    def _refill_and_read(self):
        ctx = self._ctx
        index = self._base + self._filled
        if self._closed:
            raise self._fault(f"read() of element {index} after close()")
        if index >= self._n:
            raise self._fault(f"read past the end: read() of element {index}")
        if self._buf is None:  # unbuffered: one element-wise access
            ctx.pending_reads += 1
            ctx.step()
            self._base = index + 1
            return self._flat[index]
        line = ctx.line()
        _charge(self, line, quiet=False)  # the emptied buffer's reads
        count = min(self._cap, self._n - index)
        self._buf[:count] = self._flat[index:index + count]
        ctx.emit(StreamTransfer("refill", self.tensor.name, index, count,
                                count * self._buf.itemsize, self._buffer_id,
                                self._tcm_offset, line))
        self._base, self._filled, self._j = index, count, 1
        return self._buf[0]

    def _stop(self) -> None:
        self._base += self._j  # the element the next read() would have returned
        self._filled = self._j = 0


class WriteStreamAccessor(_Stream):
    """``write(v)`` stores the tensor's next element in flat order (``TensorWriteStreamAccessor``).

    Values reach the tensor when the buffer is flushed: when a ``write()`` finds it full, on
    ``close()``, or when the stream goes out of scope.
    """

    __slots__ = ("_room",)
    _kind = "write stream"
    _is_read = False

    def __init__(self, ctx: CoreContext, tensor, buffered: bool):
        self._room = 0  # elements write() may still put in the buffer before it must flush
        super().__init__(ctx, tensor, buffered)
        if self._buf is not None:
            self._room = min(self._cap, self._n)

    def write(self, value) -> None:
        """Store ``value`` as the next element; a full buffer is flushed (one DMA) first."""
        j = self._j
        if j < self._room:  # the hot path
            self._buf[j] = value
            self._j = j + 1
            return
        self._flush_and_write(value)

    def _flush_and_write(self, value) -> None:
        ctx = self._ctx
        index = self._base + self._j
        if self._closed:
            raise self._fault(f"write() of element {index} after close()")
        if index >= self._n:
            raise self._fault(f"write past the end: write() of element {index}")
        if self._buf is None:  # unbuffered: one element-wise access
            ctx.pending_writes += 1
            ctx.step()
            self._flat[index] = value
            self._base = index + 1
            return
        line = ctx.line()
        _charge(self, line, quiet=False)
        self._flush(line, quiet=False)
        self._buf[0] = value
        self._j = 1

    def _flush(self, line: int, quiet: bool) -> None:
        count = self._j
        if count:
            base = self._base
            self._flat[base:base + count] = self._buf[:count]
            _record(self._ctx, StreamTransfer("flush", self.tensor.name, base, count,
                                              count * self._buf.itemsize, self._buffer_id,
                                              self._tcm_offset, line), quiet)
        self._base += count
        self._j = 0
        self._room = min(self._cap, self._n - self._base)

    def _drain(self, line: int, quiet: bool) -> None:
        self._flush(line, quiet)

    def _stop(self) -> None:
        self._room = 0


def open_stream(tensor, dtype, write: bool):
    """Open a stream on ``tensor`` for the current core (``Tensor.*_stream_accessor``)."""
    ctx = current()
    ctx.step()
    what = "write_stream_accessor" if write else "read_stream_accessor"
    if ctx.multicore:
        raise ctx.fault(f"{what} on tensor {tensor.name}: multicore kernels may only use TCM "
                        "accessors (Custom Operators API reference)")
    if dtype is not None and np.dtype(dtype) != tensor.dtype:
        raise ctx.fault(f"{what}<{np.dtype(dtype).name}> on tensor {tensor.name} of "
                        f"{tensor.dtype}")
    active = [s for s in _active(ctx) if not s._closed]
    for s in active:
        if s.tensor is tensor and (write or isinstance(s, WriteStreamAccessor)):
            raise ctx.fault(f"{what} on tensor {tensor.name} while a {s._kind} on it is open "
                            f"(opened at line {s._open_line}): potentially incoherent access, "
                            "an error under the default COHERENT policy; close() it first")
    buffered = sum(1 for s in active if s._buf is not None) < ctx.fast_streams
    return (WriteStreamAccessor if write else ReadStreamAccessor)(ctx, tensor, buffered)
