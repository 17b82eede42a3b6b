"""SimPy model of the GPSIMD cores, the DMA queues they share, and device-memory bandwidth.

Each core is a process replaying its records. Compute and element-access runs are single
delays. A DMA transfer (tensor_to_tcm, tcm_to_tensor, or a chunk of the zeros() fill) waits
the fixed trigger cost, takes a free queue (free queues are handed out in rotation), and
moves its bytes at the queue's bandwidth or its share of device-memory bandwidth, whichever
is lower, re-rated whenever another transfer starts or ends (``bandwidth.py``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from ..config.hardware import HardwareConfig
from ..records import Alloc, Compute, CoreTrace, Dma, ElementRun, Fill, Free
from . import costs
from .bandwidth import SharedBandwidth
from .queues import QueuePool


@dataclass
class CoreTiming:
    core: int
    end_ns: float = 0.0
    compute_ns: float = 0.0
    element_ns: float = 0.0
    dma_fixed_ns: float = 0.0     # trigger latency
    dma_wait_ns: float = 0.0      # waiting for a free queue
    dma_transfer_ns: float = 0.0  # data moving
    fill_ns: float = 0.0          # zeros(): all of its DMA time
    transfers: int = 0
    bytes: int = 0
    loop_calls: int = 0


@dataclass
class Span:
    """One interval on a track of the timeline (a core or a DMA queue)."""
    track: str
    kind: str
    start_ns: float
    end_ns: float
    args: dict


@dataclass
class TimingResult:
    simulated_ns: float
    cores: list[CoreTiming]
    spans: list[Span] = field(default_factory=list)
    counters: list[tuple[str, float, float]] = field(default_factory=list)  # (name, t, value)
    events: int = 0
    dma_busy_ns: list[float] = field(default_factory=list)


class EngineModel:
    """The modelled hardware for one kernel run."""

    def __init__(self, config: HardwareConfig, record_timeline: bool = True):
        self.config = config
        self.env = simpy.Environment()
        self.queues = QueuePool(self.env, config.dma.dma_queues)
        self.timeline = record_timeline
        self.spans: list[Span] = []
        self.counters: list[tuple[str, float, float]] = []
        self.queue_busy = [0.0] * config.dma.dma_queues

    def _bandwidth_counter(self, total_rate: float) -> None:
        self.counters.append(("hbm_bytes_per_ns", self.env.now, total_rate))

    def dma(self, t: CoreTiming, nbytes: int, kind: str, rec):
        """One DMA transfer issued by a core, which blocks until it completes."""
        env, dma = self.env, self.config.dma
        hold = dma.dma_fixed_holds_queue
        start = env.now
        if not hold:
            yield env.timeout(dma.dma_fixed_ns)
        asked = env.now
        queue = self.queues.take()
        if not isinstance(queue, int):
            queue = yield queue
        got = env.now
        if hold:
            yield env.timeout(dma.dma_fixed_ns)
        moving = env.now
        yield self.bandwidth.transfer(nbytes)
        end = env.now
        self.queues.give_back(queue)
        self.queue_busy[queue] += end - (got if hold else moving)
        t.dma_fixed_ns += dma.dma_fixed_ns
        t.dma_wait_ns += got - asked
        t.dma_transfer_ns += end - moving
        t.transfers += 1
        t.bytes += nbytes
        if kind == "fill":
            t.fill_ns += end - start
        if self.timeline:
            if kind == "fill":
                args = {"tensor": rec.tensor, "line": rec.line}
            else:
                args = {"tensor": rec.tensor, "offset": rec.offset, "elements": rec.count,
                        "tcm_offset": rec.tcm_offset, "line": rec.line}
            self._span(f"core {t.core}", kind, start, end, bytes=nbytes, queue=queue, **args)
            self._span(f"dma queue {queue}", kind, got if hold else moving, end,
                       bytes=nbytes, core=t.core, **args)

    def _span(self, track, kind, start, end, **args):
        if end > start:
            self.spans.append(Span(track, kind, start, end, args))

    def core(self, trace: CoreTrace, t: CoreTiming):
        env, config, timeline = self.env, self.config, self.timeline
        track = f"core {trace.core}"
        tcm_in_use = 0
        for rec in trace.records:
            kind = type(rec)
            if kind is Compute:
                dt = costs.compute_ns(rec, config)
                yield env.timeout(dt)
                t.compute_ns += dt
                t.loop_calls += 1
                if timeline:
                    self._span(track, "compute", env.now - dt, env.now, loop=rec.name,
                               line=rec.line, iterations=rec.ops["iterations"])
            elif kind is Dma:
                yield from self.dma(t, rec.nbytes, rec.direction, rec)
            elif kind is ElementRun:
                dt = costs.element_ns(rec.reads, rec.writes, config)
                yield env.timeout(dt)
                t.element_ns += dt
                if timeline:
                    self._span(track, "element accesses", env.now - dt, env.now,
                               reads=rec.reads, writes=rec.writes)
            elif kind is Fill:
                for nbytes in costs.fill_chunks(rec.nbytes, config):
                    yield from self.dma(t, nbytes, "fill", rec)
            elif kind is Alloc or kind is Free:
                if rec.nbytes and (kind is Free or rec.ok):
                    tcm_in_use += rec.nbytes if kind is Alloc else -rec.nbytes
                    if timeline:
                        self.counters.append((f"tcm core {trace.core}", env.now, tcm_in_use))
        t.end_ns = env.now

    def run(self, traces: list[CoreTrace]) -> TimingResult:
        # each core has at most one transfer in flight (the calls block), so at most
        # min(cores, queues) transfers share device memory at once
        self.bandwidth = SharedBandwidth(
            self.env, self.config.memory.hbm_bytes_per_ns, self.config.dma.dma_bytes_per_ns,
            self._bandwidth_counter if self.timeline else None,
            max_flows=min(len(traces), self.config.dma.dma_queues))
        timings = [CoreTiming(tr.core) for tr in traces]
        for tr, t in zip(traces, timings):
            self.env.process(self.core(tr, t))
        self.env.run()
        end = max((t.end_ns for t in timings), default=0.0)
        return TimingResult(end, timings, self.spans, self.counters, events_scheduled(self.env),
                            self.queue_busy)


def events_scheduled(env: simpy.Environment) -> int:
    """Every event SimPy scheduled in this environment (its event-id counter)."""
    return next(env._eid)  # noqa: SLF001 - SimPy numbers each scheduled event


def simulate_timing(traces: list[CoreTrace], config: HardwareConfig,
                    record_timeline: bool = True) -> TimingResult:
    return EngineModel(config, record_timeline).run(traces)
