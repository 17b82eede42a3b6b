"""What each core did, in program order: the contract between the front ends and timing.

Records are named tuples: cheap to make by the million, immutable, and quick to send
between processes. A front end (a Python kernel run by ``functional/``, or a C++ kernel run
by ``cpp/``)
appends one record per DMA transfer, per block of compute work, per run of element
accesses, per stream buffer, per fill and per allocation; the timing stage replays them
(``timing/kinds.py`` says what each kind costs and how it is shown). Custom-operator
kernels have no synchronisation between cores and no data-dependent timing, so replaying
a record list on the modelled hardware gives the schedule the hardware would run.

Every record carries the ``line`` of the kernel source it came from (0 when unknown); the
file is the ``CoreTrace``'s ``source``.
"""
from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from typing import NamedTuple

# The operation classes compute work is counted in; a front end may leave some out (0).
# The preset's cost table gives each class its cycles (``config.CoreConfig``).
OP_CLASSES = ("iterations", "arith", "compares", "selects", "branches", "calls", "divs",
              "pows", "transcendentals")


class Compute(NamedTuple):
    """A block of compute work: one call of a compiled ``@loop``, or the C++ code run between
    two API calls. ``ops`` counts operations by class (keys of ``OP_CLASSES``)."""
    ops: dict
    tcm_loads: int
    tcm_stores: int
    elem_bytes: int      # widest element the work touched: sets the SIMD lane count
    name: str
    line: int
    vectorisable: bool = True  # False when the loop goes through element-wise accessors


class ElementRun(NamedTuple):
    """A run of element-wise accessor reads and writes of device memory, one at a time."""
    reads: int
    writes: int
    line: int


class Dma(NamedTuple):
    """One tensor_to_tcm (``to_tcm``) or tcm_to_tensor (``to_tensor``) call."""
    direction: str
    tensor: str
    offset: int          # elements into the flattened tensor
    count: int           # elements
    nbytes: int
    buffer: int          # TCM buffer id
    tcm_offset: int      # bytes into the core's TCM pool
    line: int


class StreamTransfer(NamedTuple):
    """A stream accessor's buffer moving: a read stream's ``refill`` or a write stream's
    ``flush``, one DMA transfer between the tensor and the stream's TCM buffer."""
    direction: str       # "refill" or "flush"
    tensor: str
    offset: int
    count: int
    nbytes: int
    buffer: int
    tcm_offset: int
    line: int


class StreamAccess(NamedTuple):
    """``read()`` / ``write(v)`` calls served from a stream's TCM buffer since its last
    refill or flush: one element at a time, a TCM load or store each."""
    reads: int
    writes: int
    elem_bytes: int
    line: int


class Fill(NamedTuple):
    """``zeros()`` (or ones, full, eye): the tensor's bytes written in device memory."""
    tensor: str
    nbytes: int
    line: int


class TensorOp(NamedTuple):
    """A device tensor op of the API (``abs``, ``add_out``, ``fill_``, ...): ``elements``
    results computed on the GPSIMD cores, reading ``bytes_in`` and writing ``bytes_out``
    of device memory."""
    op: str
    elements: int
    elem_bytes: int
    bytes_in: int
    bytes_out: int
    line: int


class Alloc(NamedTuple):
    """``tcm_malloc``: ``ok`` is False when the pool could not satisfy it (None returned)."""
    buffer: int
    nbytes: int
    ok: bool
    line: int


class Free(NamedTuple):
    """``tcm_free`` of a buffer (``nbytes`` 0 for ``tcm_free(None)``)."""
    buffer: int
    nbytes: int
    line: int


RECORD_KINDS = (Compute, ElementRun, Dma, StreamTransfer, StreamAccess, Fill, TensorOp,
                Alloc, Free)


_KIND_INDEX = {kind: i for i, kind in enumerate(RECORD_KINDS)}


def _pack(records: list) -> list:
    """Records as plain tuples, kind index first, for ``marshal`` (several times faster
    than pickling objects; records cross a process boundary: isolation.py)."""
    index = _KIND_INDEX
    out = []
    for r in records:
        if type(r) is Compute:  # its ops dict as a tuple, in OP_CLASSES order
            ops = r.ops
            out.append((0, tuple([ops.get(k, 0) for k in OP_CLASSES]), *r[1:]))
        else:
            out.append((index[type(r)], *r))
    return out


def _unpack(core, packed, tcm_peak_bytes, malloc_failures, steps, source) -> "CoreTrace":
    kinds, new, classes = RECORD_KINDS, tuple.__new__, OP_CLASSES
    records = []
    append = records.append
    for t in marshal.loads(packed):
        if t[0] == 0:
            append(new(Compute, (dict(zip(classes, t[1])), *t[2:])))
        else:
            append(new(kinds[t[0]], t[1:]))
    return CoreTrace(core, records, tcm_peak_bytes, malloc_failures, steps, source)


@dataclass
class CoreTrace:
    """Everything one core did, and the tallies the reports need."""
    core: int
    records: list = field(default_factory=list)
    tcm_peak_bytes: int = 0
    malloc_failures: int = 0
    steps: int = 0
    source: str = ""     # the kernel file the records' lines refer to

    def __reduce__(self):
        # marshal: several times faster than pickle for plain tuples of numbers and text
        return (_unpack, (self.core, marshal.dumps(_pack(self.records)), self.tcm_peak_bytes,
                          self.malloc_failures, self.steps, self.source))
