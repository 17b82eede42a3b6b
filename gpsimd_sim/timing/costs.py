"""Closed-form costs: operation counts to cycles, bytes to nanoseconds.

Everything the timing model charges is computed here from the preset, so a reader can see
in one place what each record costs.
"""
from __future__ import annotations

from ..config.hardware import HardwareConfig
from ..records import Compute


def lanes(config: HardwareConfig, elem_bytes: int) -> int:
    """SIMD lanes for elements of ``elem_bytes``: 16 at 32-bit, 32 at 16-bit, 64 at 8-bit."""
    return max(1, config.core.simd_lanes_32bit * 4 // max(1, elem_bytes))


def compute_work_cycles(rec: Compute, config: HardwareConfig) -> float:
    """Cycles of the counted operations on one scalar lane, before vectorisation."""
    c = config.core
    ops = rec.ops
    scalar = (ops["iterations"] * c.iteration_cycles + ops["arith"] * c.arith_cycles
              + ops["compares"] * c.compare_cycles + ops["selects"] * c.select_cycles
              + ops["branches"] * c.branch_cycles + ops["calls"] * c.call_cycles
              + rec.tcm_loads * config.tcm.tcm_latency_cycles + rec.tcm_stores * c.store_cycles)
    return scalar / c.issue_width_ops


def compute_cycles(rec: Compute, config: HardwareConfig) -> float:
    """Cycles one compiled-loop call takes: fixed entry cost plus its counted work."""
    work = compute_work_cycles(rec, config)
    if config.core.loop_vectorised and rec.vectorisable:
        work /= lanes(config, rec.elem_bytes)
    return config.core.loop_call_cycles + work


def compute_ns(rec: Compute, config: HardwareConfig) -> float:
    return compute_cycles(rec, config) * config.ns_per_cycle


def element_ns(reads: int, writes: int, config: HardwareConfig) -> float:
    """A run of element-wise accesses: one at a time, each a device-memory round trip."""
    return (reads + writes) * config.memory.element_access_ns


def transfer_ns(nbytes: int, rate_bytes_per_ns: float) -> float:
    return nbytes / rate_bytes_per_ns


def fill_chunks(nbytes: int, config: HardwareConfig) -> list[int]:
    """The DMA transfers a ``zeros()`` fill of ``nbytes`` is made of."""
    chunk = config.dma.fill_chunk_bytes
    if chunk <= 0 or nbytes <= chunk:
        return [nbytes]
    full, rest = divmod(nbytes, chunk)
    return [chunk] * full + ([rest] if rest else [])
