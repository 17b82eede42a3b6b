"""Tensors in device memory and the ways a kernel reaches them.

``accessor()`` is the element-wise path (one element per access, single core only);
``tcm_accessor()`` is the DMA path (block copies between the tensor and a TCM buffer);
``read_stream_accessor()`` / ``write_stream_accessor()`` are sequential streams buffered in
TCM (``stream.py``).
"""
from __future__ import annotations

import sys

import numpy as np

from ..records import Dma, Fill
from .dtypes import DTYPES, bfloat16, float16, float32, int8, int16, int32, is_float, uint8  # noqa: F401
from .runtime import _current, current, current_or_none
from .stream import ReadStreamAccessor, WriteStreamAccessor, open_stream
from .tcm import TcmBuffer


def garbage_like(shape, dtype) -> np.ndarray:
    """Contents of memory nobody wrote: NaN for floats, a 0x5A pattern for integers.

    ``empty()`` and ``get_dst_tensor()`` do not initialise their data on the hardware; filling
    it with values no correct kernel produces lets the correctness check catch a missed element.
    """
    dtype = np.dtype(dtype)
    if is_float(dtype):
        return np.full(shape, np.nan, dtype=dtype)
    return np.full(shape, 0x5A, dtype=np.uint8).view(dtype) if dtype.itemsize == 1 else \
        np.full(shape, int.from_bytes(b"\x5a" * dtype.itemsize, "little") & np.iinfo(dtype).max,
                dtype=dtype)


class Tensor:
    """A tensor in device memory (HBM).

    A kernel reaches its data only through the API's accessors, transfers and ops, as on
    the hardware: ``data`` and ``numpy()`` are refused while a kernel runs (they would move
    data no model times). ``t.fill_(v)`` is a device op: ``api/ops.py`` adds it.
    """

    __slots__ = ("_storage", "_dtype", "_flat", "_bytes", "name", "writer", "const")

    def __init__(self, data: np.ndarray, name: str, const: bool = False):
        self._storage = data
        self._dtype = data.dtype
        self._flat = None   # the data as one dimension, made on first use
        self._bytes = None  # the data as a memoryview of bytes, made on first use
        self.name = name
        self.writer = None  # multicore writes: (start, end, core, line, order), for find_race
        self.const = const  # a `const torch::Tensor&` input: its accessors are read-only

    def numel(self) -> int:
        return int(self._storage.size)

    def flat(self) -> np.ndarray:
        """The data as one dimension (a view, kept): the TCM accessor's offsets index it.
        For the simulator's own code; a kernel reaches data through accessors."""
        f = self._flat
        if f is None:
            f = self._flat = self._storage.reshape(-1)
        return f

    def as_bytes(self) -> memoryview:
        """The data as a memoryview of its bytes (kept), for the TCM accessor's copies."""
        b = self._bytes
        if b is None:
            b = self._bytes = memoryview(self.flat().view(np.uint8))
        return b

    def sizes(self) -> tuple[int, ...]:
        return tuple(self._storage.shape)

    def size(self, i: int) -> int:
        """Size of dimension ``i`` (negative counts from the end), C++ ``t.size(i)``."""
        return int(self._storage.shape[i])

    def dim(self) -> int:
        return self._storage.ndim

    @property
    def dtype(self):
        return self._storage.dtype

    def scalar_type(self):
        """The element type (C++ ``t.scalar_type()``), as a NumPy dtype."""
        return self._storage.dtype

    @property
    def data(self) -> np.ndarray:
        """The raw array, for code outside a kernel run (tests, the functional stage)."""
        _refuse_in_kernel(f"tensor {self.name}.data")
        return self._storage

    def numpy(self) -> np.ndarray:
        _refuse_in_kernel(f"tensor {self.name}.numpy()")
        return self._storage.copy()


    def accessor(self, ndim: int | None = None) -> "ElementAccessor":
        """Element-wise accessor (C++ ``t.accessor<T, N>()``); ``ndim`` defaults to ``dim()``."""
        ctx = current()
        ctx.step()
        if ctx.multicore:
            raise ctx.fault(f"element accessor on tensor {self.name}: multicore kernels may only "
                            "use TCM accessors (Custom Operators API reference)")
        if ndim is not None and ndim != self.dim():
            raise ctx.fault(f"accessor({ndim}) on tensor {self.name} of {self.dim()} dimensions")
        return ElementAccessor(self)

    def tcm_accessor(self) -> "TcmAccessor":
        """Block-copy accessor between this tensor and TCM (C++ ``t.tcm_accessor()``);
        read-only on a const input, as the C++ const overload."""
        current().step()
        return TcmAccessor(self)

    def read_stream_accessor(self, dtype=None) -> "ReadStreamAccessor":
        """Sequential reader buffered in 4 KiB of TCM (C++ ``t.read_stream_accessor<T>()``).

        ``dtype`` is the C++ ``T``: optional, checked against the tensor's. See ``stream.py``.
        """
        return open_stream(self, dtype, write=False)

    def write_stream_accessor(self, dtype=None) -> "WriteStreamAccessor":
        """Sequential writer buffered in 4 KiB of TCM (C++ ``t.write_stream_accessor<T>()``)."""
        return open_stream(self, dtype, write=True)

    def __repr__(self) -> str:
        return f"Tensor({self.name}, sizes={self.sizes()}, {self.dtype})"


def _refuse_in_kernel(what: str) -> None:
    ctx = current_or_none()
    if ctx is not None:
        raise ctx.fault(f"{what}: a kernel reaches tensor data only through accessor(), "
                        "tcm_accessor(), the stream accessors and the tensor ops")


def storage(t: Tensor) -> np.ndarray:
    """The array behind a tensor, for the simulator's own code (never for kernels)."""
    return t._storage


class ElementAccessor:
    """``acc[i][j]`` or ``acc[i, j]`` reads and writes one element of device memory.

    Interpreted accesses are counted into runs; pass the accessor to a ``@loop`` function to
    run the same accesses compiled, with the same counts.
    """

    __slots__ = ("tensor", "_array")

    def __init__(self, tensor: Tensor):
        self.tensor = tensor
        self._array = tensor._storage

    def _check(self, index: tuple) -> tuple:
        shape = self._array.shape
        if len(index) != len(shape) or any(
                not (0 <= i < n) for i, n in zip(index, shape)):
            ctx = current()
            raise ctx.fault(f"out-of-bounds element access: tensor {self.tensor.name} of sizes "
                            f"{tuple(shape)}, index {list(index)}")
        return index

    def __getitem__(self, index):
        if not isinstance(index, tuple):
            index = (index,)
        if len(index) < self._array.ndim:
            return _Row(self, index)
        ctx = current()
        ctx.pending_reads += 1
        ctx.step()
        return self._array[self._check(index)]

    def __setitem__(self, index, value) -> None:
        if not isinstance(index, tuple):
            index = (index,)
        ctx = current()
        if self.tensor.const:
            raise ctx.fault(f"write through the accessor of const input tensor "
                            f"{self.tensor.name} (C++: accessor() of a const Tensor& is "
                            "read-only)")
        ctx.pending_writes += 1
        ctx.step()
        self._array[self._check(index)] = value


class _Row:
    """The partial index ``acc[i]`` of a multi-dimensional accessor."""

    __slots__ = ("acc", "prefix")

    def __init__(self, acc: ElementAccessor, prefix: tuple):
        self.acc = acc
        self.prefix = prefix

    def __getitem__(self, index):
        rest = index if isinstance(index, tuple) else (index,)
        return self.acc[self.prefix + rest]

    def __setitem__(self, index, value) -> None:
        rest = index if isinstance(index, tuple) else (index,)
        self.acc[self.prefix + rest] = value


class TcmAccessor:
    """``tensor_to_tcm`` / ``tcm_to_tensor``: DMA block copies, offsets into the flat tensor."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor):
        self.tensor = tensor

    def tensor_to_tcm(self, buffer: TcmBuffer, offset: int, n: int) -> None:
        """Copy ``n`` elements of the flat tensor from ``offset`` into ``buffer``."""
        self._copy("to_tcm", buffer, offset, n)

    def tcm_to_tensor(self, buffer: TcmBuffer, offset: int, n: int) -> None:
        """Copy ``n`` elements of ``buffer`` into the flat tensor at ``offset``."""
        self._copy("to_tensor", buffer, offset, n)

    def _copy(self, direction: str, buffer, offset, n) -> None:
        """One block copy, checked, done and recorded: the hot path of every TCM kernel
        (each block of its loop), so checked at a glance first and written out in one
        function (issue 14)."""
        ctx = _current.get()
        t = self.tensor
        data = t._bytes
        if not (data is not None and type(buffer) is TcmBuffer and ctx is not None
                and not buffer.freed and buffer.core == ctx.core_id and type(offset) is int
                and type(n) is int and 0 <= offset and 0 <= n
                # (a buffer's bytes are a whole number of its elements: tcm_malloc)
                and (offset + n) * buffer.itemsize <= len(data)
                and n * buffer.itemsize <= buffer.nbytes and buffer._dtype is t._dtype):
            what = "tensor_to_tcm" if direction == "to_tcm" else "tcm_to_tensor"
            ctx, offset, n = self._checked(what, buffer, offset, n)
            data = t.as_bytes()
        # the kernel's line (the caller of tensor_to_tcm / tcm_to_tensor), remembered per
        # call site: finding a frame's line walks its code's line table (``call_line``)
        frame = _getframe(2)
        line = ctx.call_lines.get((id(frame.f_code), frame.f_lasti))
        if line is None:
            line = ctx.call_line(frame)
        size = buffer.itemsize
        # bytes through memoryviews: a fifth of a NumPy slice assignment's cost (which sets
        # up a dtype transfer each time), the same bits (one dtype)
        if direction == "to_tcm":
            buffer._bytes[:n * size] = data[offset * size:(offset + n) * size]
        else:
            if t.const:
                raise ctx.fault(f"tcm_to_tensor into const input tensor {t.name} (C++: "
                                "tcm_accessor() of a const Tensor& is read-only)")
            if ctx.multicore:
                claim(ctx, t, offset, n, line)
            data[offset * size:(offset + n) * size] = buffer._bytes[:n * size]
        # a record is a tuple: tuple.__new__ spares the NamedTuple's Python-level __new__
        ctx.emit(_new(Dma, (direction, t.name, offset, n, n * size, buffer.id, buffer.offset,
                            line)))

    def _checked(self, what: str, buffer, offset, n):
        """(core, offset, n) of a copy, checked one check at a time, the failing one named."""
        ctx = current()
        t = self.tensor
        if not isinstance(buffer, TcmBuffer):
            got = "None (tcm_malloc failed)" if buffer is None else type(buffer).__name__
            raise ctx.fault(f"{what}: expected a TCM buffer, got {got}")
        array = buffer.live_array(what)   # faults if freed or another core's
        offset, n = int(offset), int(n)
        if n < 0 or offset < 0 or offset + n > t.numel():
            bad = offset if offset < 0 or offset >= t.numel() else t.numel()
            raise ctx.fault(f"out-of-bounds {what}: tensor {t.name} has {t.numel()} elements, "
                            f"elements [{offset}, {offset + n}) requested (first bad index {bad})")
        if n > array.shape[0]:
            raise ctx.fault(f"out-of-bounds {what}: TCM buffer {buffer.id} holds {array.shape[0]} "
                            f"elements, {n} requested (first bad index {array.shape[0]})")
        if array.dtype != t.dtype:
            raise ctx.fault(f"{what}: TCM buffer {buffer.id} is {array.dtype}, tensor {t.name} "
                            f"is {t.dtype}")
        return ctx, offset, n


_new = tuple.__new__
_getframe = sys._getframe


def claim(ctx, t: Tensor, offset: int, n: int, line: int = 0) -> None:
    """Note that this core wrote elements [offset, offset + n) of ``t`` (multicore kernels):
    ``find_race`` checks the writes of every core once the cores have run. Cheap per call:
    an interval, not a per-element map. (Intervals are not merged: a race names the line of
    the other core's write that reaches furthest, which merging would change.)"""
    if t.writer is None:
        t.writer = []
        written = getattr(ctx, "written", None)
        if written is not None:
            written.append(t)
    t.writer.append((offset, offset + n, ctx.core_id, line, ctx.order))


def find_race(t: Tensor, display: str):
    """The first element of ``t`` two cores wrote, as the fault the later core's write
    raises; None when the cores' writes are disjoint."""
    if not t.writer:
        return None
    best = None                    # (element, earlier write, later write)
    ends: dict[int, tuple] = {}    # core -> its write reaching furthest so far
    for w in sorted(t.writer):     # by start: the first overlap found is the lowest element
        start, end, core = w[0], w[1], w[2]
        if start >= end:
            continue
        for other, o in ends.items():
            if other != core and o[1] > start:
                first, second = (o, w) if o[4] < w[4] else (w, o)
                best = (start, first, second)
                break
        if best is not None:
            break
        if core not in ends or end > ends[core][1]:
            ends[core] = w
    if best is None:
        return None
    i, first, second = best
    from ..errors import KernelFault
    return KernelFault(f"{display}:{second[3]}: core {second[2]}: race: tensor {t.name} element "
                       f"{i} written by core {first[2]} and core {second[2]} (no "
                       "synchronisation between cores: the result depends on timing)")


def _new_tensor(kind: str, data: np.ndarray) -> Tensor:
    """A tensor the kernel made, named for the call that made it (``zeros#0``, ``empty#1``)."""
    ctx = current()
    ctx.next_tensor_id += 1
    return Tensor(data, f"{kind}#{ctx.next_tensor_id - 1}")


def _shape(sizes) -> tuple[int, ...]:
    if isinstance(sizes, (int, np.integer)):
        return (int(sizes),)
    return tuple(int(s) for s in sizes)


def _filled(kind: str, data: np.ndarray) -> Tensor:
    """A new tensor whose every byte is written in device memory first (a timed fill)."""
    t = _new_tensor(kind, data)
    ctx = current()
    ctx.emit(Fill(t.name, t._storage.nbytes, ctx.line()))
    return t


def zeros(sizes, dtype=float32) -> Tensor:
    """A new device tensor filled with zeros (the fill costs time on the hardware)."""
    return _filled("zeros", np.zeros(_shape(sizes), dtype=dtype))


def ones(sizes, dtype=float32) -> Tensor:
    """A new device tensor filled with ones (``torch::ones``), timed like ``zeros``."""
    return _filled("ones", np.ones(_shape(sizes), dtype=dtype))


def full(sizes, value, dtype=float32) -> Tensor:
    """A new device tensor filled with ``value`` (``torch::full``), timed like ``zeros``."""
    return _filled("full", np.full(_shape(sizes), value, dtype=dtype))


def eye(n: int, m: int | None = None, dtype=float32) -> Tensor:
    """An ``n`` x ``m`` identity matrix (``torch::eye``): every element is written, timed
    like ``zeros``."""
    return _filled("eye", np.eye(int(n), None if m is None else int(m), dtype=dtype))


def empty(sizes, dtype=float32) -> Tensor:
    """A new device tensor whose contents are not written (faster than ``zeros``)."""
    shape = _shape(sizes)
    current().step()
    return _new_tensor("empty", garbage_like(shape, dtype))
