"""One handler per record kind: what a record costs, what it adds to the bound, how it is shown.

This is the one place that switches on the type of a record. The engine asks a handler for
the core time a record takes (``delay``) and the DMA transfers it makes (``chunks``); the
bound and the fixed-cost floor ask for its demand (``demand``, ``fixed_ns``); the reports ask
for its tallies and its name on the timeline. Adding a record kind: a class in
``records.py``, a handler here, registered in ``HANDLERS`` (docs/architecture.md).

Categories (``category``) are the parts a core's time is split into: the per-core table,
the limiter and the engine-active % read them.
"""
from __future__ import annotations

from ..config.hardware import HardwareConfig
from ..records import (Alloc, Compute, Dma, ElementRun, Fill, Free, StreamAccess,
                       StreamTransfer, TensorOp)
from . import costs

# The parts of a core's time, as the summary names them; disjoint, they add up to the
# core's running time. "dma_*" hold the phases of every transfer but the fills'; "fill"
# holds the whole time of the fills' transfers (zeros, ones, full, eye).
CATEGORIES = {
    "compute": "the compute loop",
    "element": "element-wise accessor reads and writes",
    "stream": "stream accessor reads and writes (one element at a time)",
    "tensor_op": "device tensor ops",
    "dma_fixed": "per-transfer DMA fixed cost",
    "dma_wait": "waiting for a free DMA queue",
    "dma_transfer": "DMA data movement",
    "fill": "the fill of a new tensor (zeros, ones, full, eye)",
}
# Parts in which a core executes the kernel's own instructions: the Neuron profiler's
# "engine active". An element-wise access is a core stalled on device memory (a read
# waits for its round trip), like a DMA wait: not active (docs/tracing.md).
ACTIVE = ("compute", "stream", "tensor_op")


class Demand:
    """What the records of a run ask of each resource, for the roofline bound."""

    __slots__ = ("work_cycles", "element_ns", "dma_bytes")

    def __init__(self):
        self.work_cycles = 0.0   # compute at the SIMD lanes' peak, summed over cores
        self.element_ns = 0.0    # element-path time of the core being read
        self.dma_bytes = 0       # bytes every DMA transfer moves


class Tally(dict):
    """Counts the JSON result reports per core."""

    KEYS = ("dma_transfers", "dma_bytes", "fills", "element_accesses", "stream_transfers",
            "stream_bytes", "tensor_ops")

    def __init__(self):
        super().__init__(dict.fromkeys(self.KEYS, 0))


class Kind:
    """A record kind's handler. Defaults: takes no core time, makes no transfer."""

    category = ""        # the part of its core's time it counts in (CATEGORIES)
    op = ""              # the operation's name on the timeline (transfers)
    trace_cat = "dma"    # trace category of its transfers
    instant = False      # an event at one moment (allocations), not an interval

    def delay(self, rec, config: HardwareConfig) -> float | None:
        """Core time before its transfers, ns (None: the record takes none)."""
        return None

    def chunks(self, rec, config: HardwareConfig) -> list[int]:
        """Bytes of each DMA transfer the record makes, in order."""
        return []

    def demand(self, rec, config: HardwareConfig, d: Demand) -> None:
        for nbytes in self.chunks(rec, config):
            d.dma_bytes += nbytes

    def fixed_ns(self, rec, config: HardwareConfig) -> float:
        """Fixed costs the record makes its core pay, whatever the bandwidths."""
        return config.dma.dma_fixed_ns * len(self.chunks(rec, config))

    def tally(self, rec, t: Tally) -> None:
        pass

    def span(self, rec) -> tuple[str, dict]:
        """Name and arguments of its core-time slice on the timeline."""
        return self.category, {}

    def transfer_args(self, rec) -> dict:
        """Arguments of its transfers' slices on the timeline."""
        return {"line": rec.line}


class ComputeKind(Kind):
    category = "compute"

    def delay(self, rec, config):
        return costs.compute_ns(rec, config)

    def demand(self, rec, config, d):
        d.work_cycles += self.peak_work(rec, config)

    @staticmethod
    def peak_work(rec, config) -> float:
        """Its work at the SIMD lanes' peak (whether or not this preset vectorises)."""
        work = costs.compute_work_cycles(rec, config)
        if rec.vectorisable:
            work /= costs.lanes(config, rec.elem_bytes)
        return work

    def fixed_ns(self, rec, config):
        return config.core.loop_call_cycles * config.ns_per_cycle

    def span(self, rec):
        return f"compute {rec.name}", {"loop": rec.name, "line": rec.line,
                                       "iterations": rec.ops["iterations"]}


class ElementRunKind(Kind):
    category = "element"

    def delay(self, rec, config):
        return costs.element_ns(rec.reads, rec.writes, config)

    def demand(self, rec, config, d):
        d.element_ns += costs.element_ns(rec.reads, rec.writes, config)

    def fixed_ns(self, rec, config):
        return 0.0

    def tally(self, rec, t):
        t["element_accesses"] += rec.reads + rec.writes

    def span(self, rec):
        return "element accesses", {"reads": rec.reads, "writes": rec.writes}


class StreamAccessKind(Kind):
    category = "stream"

    def delay(self, rec, config):
        return costs.stream_access_ns(rec, config)

    def demand(self, rec, config, d):
        d.work_cycles += costs.stream_access_work_cycles(rec, config)

    def fixed_ns(self, rec, config):
        return config.core.loop_call_cycles * config.ns_per_cycle

    def span(self, rec):
        return "stream accesses", {"reads": rec.reads, "writes": rec.writes, "line": rec.line}


class DmaKind(Kind):
    category = "dma"
    OPS = {"to_tcm": "tensor_to_tcm", "to_tensor": "tcm_to_tensor"}

    def chunks(self, rec, config):
        return [rec.nbytes]

    def tally(self, rec, t):
        t["dma_transfers"] += 1
        t["dma_bytes"] += rec.nbytes

    def op_name(self, rec) -> str:
        return self.OPS[rec.direction]

    def transfer_args(self, rec):
        return {"tensor": rec.tensor, "offset": rec.offset, "elements": rec.count,
                "tcm_offset": rec.tcm_offset, "line": rec.line}


class StreamTransferKind(DmaKind):
    OPS = {"refill": "stream refill", "flush": "stream flush"}

    def tally(self, rec, t):
        t["stream_transfers"] += 1
        t["stream_bytes"] += rec.nbytes


class FillKind(Kind):
    category = "fill"
    trace_cat = "fill"

    def chunks(self, rec, config):
        return costs.fill_chunks(rec.nbytes, config)

    def tally(self, rec, t):
        t["fills"] += 1

    def op_name(self, rec) -> str:
        # the factory that made the tensor: "zeros#0" -> "zeros() fill"
        return f"{rec.tensor.split('#', 1)[0]}() fill"

    def transfer_args(self, rec):
        return {"tensor": rec.tensor, "line": rec.line}


class TensorOpKind(Kind):
    category = "tensor_op"

    def delay(self, rec, config):
        return costs.tensor_op_ns(rec, config)

    def chunks(self, rec, config):
        return costs.tensor_op_chunks(rec, config)

    def demand(self, rec, config, d):
        super().demand(rec, config, d)
        d.work_cycles += costs.tensor_op_work_cycles(rec, config)

    def fixed_ns(self, rec, config):
        return super().fixed_ns(rec, config) + config.core.loop_call_cycles * config.ns_per_cycle

    def tally(self, rec, t):
        t["tensor_ops"] += 1

    def op_name(self, rec) -> str:
        return f"{rec.op} data"

    def span(self, rec):
        return rec.op, {"op": rec.op, "elements": rec.elements, "line": rec.line}


class AllocKind(Kind):
    category = "tcm"     # takes no time: changes what the core's TCM holds
    instant = True

    def fixed_ns(self, rec, config):
        return 0.0

    @staticmethod
    def tcm_change(rec) -> int:
        return rec.nbytes if rec.ok else 0

    @staticmethod
    def label(rec) -> str:
        return f"tcm_malloc {rec.nbytes} B" + ("" if rec.ok else " FAILED")

    @staticmethod
    def args(rec) -> dict:
        return {"buffer": rec.buffer, "bytes": rec.nbytes, "line": rec.line, "ok": rec.ok}


class FreeKind(AllocKind):
    @staticmethod
    def tcm_change(rec) -> int:
        return -rec.nbytes

    @staticmethod
    def label(rec) -> str:
        return f"tcm_free {rec.nbytes} B" if rec.nbytes else "tcm_free(null)"

    @staticmethod
    def args(rec) -> dict:
        return {"buffer": rec.buffer, "bytes": rec.nbytes, "line": rec.line}


HANDLERS: dict[type, Kind] = {
    Compute: ComputeKind(),
    ElementRun: ElementRunKind(),
    StreamAccess: StreamAccessKind(),
    Dma: DmaKind(),
    StreamTransfer: StreamTransferKind(),
    Fill: FillKind(),
    TensorOp: TensorOpKind(),
    Alloc: AllocKind(),
    Free: FreeKind(),
}


def handler(rec) -> Kind:
    return HANDLERS[type(rec)]
