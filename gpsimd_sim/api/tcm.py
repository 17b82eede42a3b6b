"""TCM buffers: ``tcm_malloc`` / ``tcm_free`` over each core's 16 KiB pool."""
from __future__ import annotations

import numpy as np

from ..records import Alloc, Free
from .runtime import current


class TcmBuffer:
    """A typed view of bytes in one core's TCM pool (the C++ ``float *tcm_buffer``)."""

    __slots__ = ("id", "offset", "nbytes", "_array", "_bytes", "_dtype", "itemsize", "freed",
                 "core")

    def __init__(self, buf_id: int, offset: int, nbytes: int, array: np.ndarray, core: int):
        self.id = buf_id
        self.offset = offset
        self.nbytes = nbytes
        self._array = array  # indexed only by @loop functions, which count the accesses
        self._bytes = memoryview(array.view(np.uint8))  # the same memory: the DMA copies'
        self._dtype = array.dtype
        self.itemsize = array.itemsize
        self.freed = False
        self.core = core

    @property
    def capacity(self) -> int:
        """Elements of its dtype the buffer holds."""
        return self._array.shape[0]

    def __len__(self) -> int:
        return self.capacity

    def __repr__(self) -> str:
        return f"TcmBuffer(id={self.id}, {self.nbytes} bytes, {self._array.dtype})"

    @property
    def dtype(self):
        return self._array.dtype

    def live_array(self, what: str) -> np.ndarray:
        """The buffer's memory, for the simulator's own code; faults if freed or another
        core's."""
        ctx = current()
        if self.freed:
            raise ctx.fault(f"{what}: TCM buffer {self.id} used after tcm_free")
        if self.core != ctx.core_id:
            raise ctx.fault(f"{what}: TCM buffer {self.id} belongs to core {self.core}: a "
                            "core reaches only its own TCM")
        return self._array

    def __getitem__(self, index):
        raise current().fault(f"TCM buffer {self.id} indexed outside a @loop function: "
                              "element work on TCM is written in a @loop, which counts it")

    def __setitem__(self, index, value):
        self.__getitem__(index)


def sizeof(dtype) -> int:
    """Bytes per element of ``dtype`` (the C++ ``sizeof(float)``)."""
    return np.dtype(dtype).itemsize


def tcm_malloc(nbytes: int, dtype=np.float32) -> TcmBuffer | None:
    """Allocate ``nbytes`` of this core's TCM pool as a ``dtype`` buffer, or None if it cannot."""
    ctx = current()
    nbytes = int(nbytes)
    itemsize = np.dtype(dtype).itemsize
    if nbytes <= 0 or nbytes % itemsize:
        raise ctx.fault(f"tcm_malloc({nbytes}): size must be a positive multiple of {itemsize} "
                        f"bytes for {np.dtype(dtype).name}")
    buf_id = ctx.next_buffer_id
    ctx.next_buffer_id += 1
    offset = ctx.tcm.allocate(nbytes)
    if offset is None:
        ctx.trace.malloc_failures += 1
        ctx.emit(Alloc(buf_id, nbytes, False, ctx.line()))
        return None
    array = ctx.tcm.memory[offset:offset + nbytes].view(dtype)
    ctx.emit(Alloc(buf_id, nbytes, True, ctx.line()))
    return TcmBuffer(buf_id, offset, nbytes, array, ctx.core_id)


def tcm_free(buffer: TcmBuffer | None) -> None:
    """Return a buffer to the pool; ``tcm_free(None)`` does nothing, as in C++."""
    ctx = current()
    if buffer is None:
        ctx.emit(Free(-1, 0, ctx.line()))
        return
    if not isinstance(buffer, TcmBuffer):
        raise ctx.fault(f"tcm_free expects a TCM buffer, got {type(buffer).__name__}")
    if buffer.freed:
        raise ctx.fault(f"tcm_free: TCM buffer {buffer.id} freed twice")
    if buffer.core != ctx.core_id:
        raise ctx.fault(f"tcm_free: TCM buffer {buffer.id} belongs to core {buffer.core}")
    buffer.freed = True
    ctx.tcm.release(buffer.offset, buffer.nbytes)
    ctx.emit(Free(buffer.id, buffer.nbytes, ctx.line()))
