"""What each core did, in program order: the hand-off from the functional stage to timing.

The functional stage appends one record per DMA transfer, per compiled-loop call, per run of
element accesses, per allocation; the timing stage replays them. Custom-operator kernels
have no synchronisation between cores and no data-dependent timing, so replaying a record
list on the modelled hardware gives the same schedule the hardware would run.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Compute:
    """One call of a compiled ``@loop``: operations counted while it ran."""
    ops: dict            # iterations, arith, compares, selects, branches, calls
    tcm_loads: int
    tcm_stores: int
    elem_bytes: int      # widest element the loop touched: sets the SIMD lane count
    name: str
    line: int
    vectorisable: bool = True  # False when the loop goes through element-wise accessors


@dataclass(slots=True)
class ElementRun:
    """A run of element-wise accessor reads and writes of device memory."""
    reads: int
    writes: int
    line: int


@dataclass(slots=True)
class Dma:
    """One tensor_to_tcm (``to_tcm``) or tcm_to_tensor (``to_tensor``) call."""
    direction: str
    tensor: str
    offset: int          # elements into the flattened tensor
    count: int           # elements
    nbytes: int
    buffer: int          # TCM buffer id
    tcm_offset: int      # bytes into the core's TCM pool
    line: int


@dataclass(slots=True)
class Fill:
    """``zeros()``: the tensor's bytes written in device memory before the kernel uses it."""
    tensor: str
    nbytes: int
    line: int


@dataclass(slots=True)
class Alloc:
    """``tcm_malloc``: ``ok`` is False when the pool could not satisfy it (None returned)."""
    buffer: int
    nbytes: int
    ok: bool
    line: int


@dataclass(slots=True)
class Free:
    """``tcm_free`` of a buffer (``nbytes`` 0 for ``tcm_free(None)``)."""
    buffer: int
    nbytes: int
    line: int


@dataclass
class CoreTrace:
    """Everything one core did, and the tallies the reports need."""
    core: int
    records: list = field(default_factory=list)
    tcm_peak_bytes: int = 0
    malloc_failures: int = 0
    steps: int = 0

    def count(self, kind: type) -> int:
        return sum(1 for r in self.records if type(r) is kind)
