"""Closed-form costs: operation counts to cycles, bytes to nanoseconds.

Everything the timing model charges a core for its own work is computed here from the
preset, so a reader can see in one place what each record costs (``kinds.py`` says which
cost each record kind takes; ``dma.py`` times transfers).
"""
from __future__ import annotations

from ..config.hardware import HardwareConfig
from ..records import Compute, StreamAccess, TensorOp

# Which cost class of the preset each device tensor op's per-element work takes. A
# semantic table, not a hardware number: the cycles come from the preset.
TENSOR_OP_CLASSES = {
    "abs": "arith", "ceil": "arith", "floor": "arith", "add": "arith", "sub": "arith",
    "mul": "arith", "bitwise_and": "arith", "bitwise_or": "arith", "bitwise_not": "arith",
    "fill_": "arith", "clamp": "compares", "div": "divs", "pow": "pows",
    "sin": "transcendentals", "cos": "transcendentals", "tan": "transcendentals",
    "log": "transcendentals", "log2": "transcendentals", "log10": "transcendentals",
    "exp": "transcendentals",
}


def lanes(config: HardwareConfig, elem_bytes: int) -> int:
    """SIMD lanes for elements of ``elem_bytes``: 16 at 32-bit, 32 at 16-bit, 64 at 8-bit."""
    return max(1, config.core.simd_lanes_32bit * 4 // max(1, elem_bytes))


def class_cycles(config: HardwareConfig) -> dict[str, float]:
    """Cycles of one operation of each class (``records.OP_CLASSES``) on one scalar lane."""
    c = config.core
    return {"iterations": c.iteration_cycles, "arith": c.arith_cycles,
            "compares": c.compare_cycles, "selects": c.select_cycles,
            "branches": c.branch_cycles, "calls": c.call_cycles, "divs": c.div_cycles,
            "pows": c.pow_cycles, "transcendentals": c.transcendental_cycles}


def compute_work_cycles(rec: Compute, config: HardwareConfig) -> float:
    """Cycles of the counted operations on one scalar lane, before vectorisation."""
    c = config.core
    ops = rec.ops
    scalar = (ops["iterations"] * c.iteration_cycles + ops["arith"] * c.arith_cycles
              + ops["compares"] * c.compare_cycles + ops["selects"] * c.select_cycles
              + ops["branches"] * c.branch_cycles + ops["calls"] * c.call_cycles
              + rec.tcm_loads * config.tcm.tcm_latency_cycles + rec.tcm_stores * c.store_cycles)
    # the classes a ReLU never uses are added only when present, so adding a class
    # cannot move a figure by rounding
    for name, cycles in (("divs", c.div_cycles), ("pows", c.pow_cycles),
                         ("transcendentals", c.transcendental_cycles)):
        n = ops.get(name, 0)
        if n:
            scalar += n * cycles
    return scalar / c.issue_width_ops


def compute_cycles(rec: Compute, config: HardwareConfig) -> float:
    """Cycles one block of compute work takes: fixed entry cost plus its counted work."""
    work = compute_work_cycles(rec, config)
    if config.core.loop_vectorised and rec.vectorisable:
        work /= lanes(config, rec.elem_bytes)
    return config.core.loop_call_cycles + work


def compute_ns(rec: Compute, config: HardwareConfig) -> float:
    return compute_cycles(rec, config) * config.ns_per_cycle


def element_ns(reads: int, writes: int, config: HardwareConfig) -> float:
    """A run of element-wise accesses, one at a time: a read is a device-memory round trip
    the core waits for; a write costs ``element_write_fraction`` of it (1: it blocks as a
    read does; less: it is posted)."""
    m = config.memory
    return m.element_access_ns * (reads + m.element_write_fraction * writes)


def stream_access_work_cycles(rec: StreamAccess, config: HardwareConfig) -> float:
    """``read()``/``write()`` calls on a stream's buffer: per element, one iteration's
    bookkeeping plus a TCM load or store, one element at a time (not vectorisable)."""
    c = config.core
    return ((rec.reads + rec.writes) * c.iteration_cycles
            + rec.reads * config.tcm.tcm_latency_cycles + rec.writes * c.store_cycles
            ) / c.issue_width_ops


def stream_access_ns(rec: StreamAccess, config: HardwareConfig) -> float:
    return ((config.core.loop_call_cycles + stream_access_work_cycles(rec, config))
            * config.ns_per_cycle)


def tensor_op_work_cycles(rec: TensorOp, config: HardwareConfig) -> float:
    """A device tensor op's per-element work at its cost class, across the SIMD lanes."""
    per_element = class_cycles(config)[TENSOR_OP_CLASSES.get(rec.op, "arith")]
    return rec.elements * per_element / lanes(config, rec.elem_bytes)


def tensor_op_ns(rec: TensorOp, config: HardwareConfig) -> float:
    """A device tensor op on the cores: its fixed start-up plus its vectorised work."""
    return ((config.core.tensor_op_fixed_cycles + tensor_op_work_cycles(rec, config))
            * config.ns_per_cycle)


def tensor_op_chunks(rec: TensorOp, config: HardwareConfig) -> list[int]:
    """A tensor op's operands in and result out, staged through TCM one stream buffer
    (``stream_buffer_bytes``) per DMA transfer, as the stream accessors move data."""
    return (split(rec.bytes_in, config.tcm.stream_buffer_bytes)
            + split(rec.bytes_out, config.tcm.stream_buffer_bytes))


def split(nbytes: int, chunk: int) -> list[int]:
    """``nbytes`` in transfers of at most ``chunk`` bytes (``chunk`` 0: one transfer)."""
    if nbytes <= 0:
        return []
    if chunk <= 0 or nbytes <= chunk:
        return [nbytes]
    full, rest = divmod(nbytes, chunk)
    return [chunk] * full + ([rest] if rest else [])


def fill_chunks(nbytes: int, config: HardwareConfig) -> list[int]:
    """The DMA transfers a ``zeros()`` fill of ``nbytes`` is made of."""
    chunks = split(nbytes, config.dma.fill_chunk_bytes)
    return chunks or [nbytes]
