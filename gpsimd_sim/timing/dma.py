"""The DMA system: how a core's transfer reaches device memory, and what it costs.

The memory side of the model (SCALE-Sim's split: cores make demand, this services it). A
preset picks the organisation with ``dma.organisation``:

- ``shared_queues`` (Trn1/Inf2): the cores share a pool of DMA queues. A transfer waits
  its fixed trigger cost, takes a free queue (``queues.QueuePool``), and moves its bytes at
  the queue's bandwidth or its share of device-memory bandwidth, whichever is lower
  (``bandwidth.SharedBandwidth``, re-rated whenever a transfer starts or ends).
- ``per_core`` (the Trn2 what-if): each core owns an integrated DMA engine, so there is no
  queue to wait for; the engines still share the GPSIMD's total bandwidth.

A system records each transfer's phases (fixed cost, wait for a channel, data movement);
the engine adds them to the core's time and the trace draws them, so no one re-derives
them. Three ways to time a transfer, each costing the simulation one event, its end, where
it can:

- ``planned``, where device-memory bandwidth never binds: every phase is known when the
  transfer is issued (``plan``);
- ``fluid``, where bandwidth binds: a transfer asks for its channel (or, held, starts
  moving) exactly its fixed cost after it is issued, so its queue and its end are worked
  out ahead, once no transfer yet to be issued can come before them (``issue``,
  ``landed``; ``fluid.FluidBandwidth``);
- otherwise phase by phase, a SimPy process with a timeout for the fixed cost, a wait for
  a channel and the bandwidth's own timers (``shared_transfer``): where bandwidth binds
  and the fixed cost is 0, and for a whole run in which ``FluidBandwidth`` meets two steps
  at one instant whose order only the simulation knows (``fluid.NotCertainAhead``).

Adding an organisation: subclass ``DmaSystem``, give it all three, register it in
``ORGANISATIONS``, name it in a preset (docs/architecture.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import simpy

from ..config.hardware import HardwareConfig
from .bandwidth import SharedBandwidth
from .fluid import Flow, FluidBandwidth
from .queues import QueueBook, QueuePool


@dataclass(slots=True)
class Phases:
    """When one transfer did what, in ns of simulated time.

    ``fixed`` and ``wait`` are (start, end) intervals; the data moved from ``moving`` to
    ``end``; ``channel`` is the queue or engine that carried it, held from ``held``.
    """
    channel: int
    start: float
    fixed: tuple[float, float]
    wait: tuple[float, float]
    held: float
    moving: float
    end: float


class DmaSystem:
    """Base of the DMA organisations: the channels, device-memory bandwidth, peak rate."""

    name = ""
    channel_label = "DMA channel"   # how a channel is named on the timeline
    group_label = "DMA channels"    # and the group of their tracks

    def __init__(self, env: simpy.Environment, config: HardwareConfig, ncores: int,
                 on_rate=None, work_ahead: bool = True):
        self.env = env
        self.config = config
        self.ncores = ncores
        self.fixed_ns = config.dma.dma_fixed_ns
        # bandwidth never binds: every transfer's phases are known when it is issued
        self.planned = not self.memory_limited(config, ncores)
        # it binds: a transfer asks for its channel exactly its fixed cost after it is
        # issued, and its end is worked out ahead (with no fixed cost, a transfer asks at
        # the instant it is issued, in an order only the simulation knows: phase by phase)
        self.fluid = work_ahead and not self.planned and self.fixed_ns > 0
        total, cap = self.total_bytes_per_ns(config), config.dma.dma_bytes_per_ns
        self.bandwidth = (
            FluidBandwidth(env, total, cap, self.fixed_ns, ncores, on_rate,
                           self.shared_queues(config), config.dma.dma_fixed_holds_queue)
            if self.fluid else SharedBandwidth(env, total, cap, on_rate))

    # -- the formulas the bound and the reports share --------------------------------------
    @classmethod
    def channels_in_use(cls, config: HardwareConfig, ncores: int) -> int:
        """How many transfers can move data at once (each core waits for its own)."""
        raise NotImplementedError

    @classmethod
    def shared_queues(cls, config: HardwareConfig) -> int | None:
        """How many queues the cores share (None: each core has its own engine)."""
        return None

    @classmethod
    def total_bytes_per_ns(cls, config: HardwareConfig) -> float:
        """The most all transfers together can draw (device memory, or less)."""
        return config.memory.hbm_bytes_per_ns

    @classmethod
    def peak_bytes_per_ns(cls, config: HardwareConfig, ncores: int) -> float:
        """The fastest ``ncores`` cores can move data: every stream at full rate, capped."""
        return min(cls.total_bytes_per_ns(config),
                   cls.channels_in_use(config, ncores) * config.dma.dma_bytes_per_ns)

    @classmethod
    def memory_limited(cls, config: HardwareConfig, ncores: int) -> bool:
        """True when the shared total, not the channels, caps the peak."""
        return (cls.total_bytes_per_ns(config)
                < cls.channels_in_use(config, ncores) * config.dma.dma_bytes_per_ns)

    @classmethod
    def describe(cls, config: HardwareConfig, ncores: int) -> str:
        """The channels ``ncores`` cores use, in words, for the summary."""
        raise NotImplementedError

    @classmethod
    def never_contends(cls, config: HardwareConfig, ncores: int) -> bool:
        """True when no transfer can ever wait for a channel or share bandwidth: each then
        takes exactly its fixed cost plus its bytes at the channel's rate, and the timing
        is closed-form (``engine.closed_form``)."""
        return (not cls.memory_limited(config, ncores)
                and cls._always_a_channel(config, ncores))

    @classmethod
    def _always_a_channel(cls, config: HardwareConfig, ncores: int) -> bool:
        return True

    def plan(self, core: int, nbytes: int) -> Phases:
        """The phases of a transfer ``core`` issues now, when ``planned``: the engine then
        books its data phase (``bandwidth.book``) and waits for one event, at its end. The
        times are the sums the phase-by-phase simulation makes (each ``now + delay``), so
        the two agree to the last bit."""
        raise NotImplementedError

    def issue(self, core: int, nbytes: int) -> Flow:
        """A transfer ``core`` issues now, when ``fluid``: the core waits for its
        ``event``, then takes its phases from ``landed``."""
        return self.bandwidth.issue(core, nbytes)

    def landed(self, flow: Flow) -> Phases:
        """The phases of a ``fluid`` transfer that has ended (its core is woken)."""
        raise NotImplementedError

    def shared_transfer(self, core: int, nbytes: int):
        """The transfer phase by phase, sharing device-memory bandwidth: a SimPy process
        body that returns its ``Phases`` (used when neither ``planned`` nor ``fluid``)."""
        raise NotImplementedError


class SharedQueues(DmaSystem):
    """Trn1/Inf2: the cores share ``dma_queues`` queues, handed out in rotation."""

    name = "shared_queues"
    channel_label = "DMA queue"
    group_label = "DMA queues"

    def __init__(self, env, config, ncores, on_rate=None, work_ahead=True):
        super().__init__(env, config, ncores, on_rate, work_ahead)
        self.hold = config.dma.dma_fixed_holds_queue
        count = config.dma.dma_queues
        if self.planned:
            self.queues = QueueBook(count)
        elif not self.fluid:   # taken and given back as it happens (the fluid
            self.queues = QueuePool(env, count)   # bandwidth keeps its own)

    @classmethod
    def channels_in_use(cls, config, ncores):
        return min(config.dma.dma_queues, ncores)

    @classmethod
    def _always_a_channel(cls, config, ncores):
        return config.dma.dma_queues >= ncores   # each core has at most one in flight

    @classmethod
    def describe(cls, config, ncores):
        n = cls.channels_in_use(config, ncores)
        return (f"at most {n} of the {config.dma.dma_queues} DMA queues in use at once: each "
                f"core waits for its own transfer; queues are handed out in rotation")

    def plan(self, core: int, nbytes: int) -> Phases:
        fixed, hold = self.fixed_ns, self.hold
        start = self.env.now
        asked = start if hold else start + fixed
        queue, got = self.queues.take(asked)
        moving = got + fixed if hold else got
        end = moving + max(0.0, nbytes) / self.bandwidth.cap
        self.queues.give_back(queue, end)
        return self._phases(queue, start, asked, got, moving, end)

    def _phases(self, queue, start, asked, got, moving, end) -> Phases:
        """A transfer's phases from the instants it passed (each way of timing it gives
        these): with a held queue the fixed cost is paid on the queue, after the wait."""
        hold = self.hold
        trigger = (got, moving) if hold else (start, asked)
        return Phases(queue, start, trigger, (asked, got), got if hold else moving, moving, end)

    @classmethod
    def shared_queues(cls, config):
        return config.dma.dma_queues

    def landed(self, flow: Flow) -> Phases:
        self.bandwidth.given_back(flow)
        return self._phases(flow.channel, flow.start, flow.asked, flow.got, flow.moving,
                            flow.end)

    def shared_transfer(self, core: int, nbytes: int):
        env, fixed = self.env, self.fixed_ns
        start = env.now
        if not self.hold:
            yield env.timeout(fixed)
        asked = env.now
        queue = self.queues.take()
        if not isinstance(queue, int):
            queue = yield queue
        got = env.now
        if self.hold:
            yield env.timeout(fixed)
        moving = env.now
        yield self.bandwidth.transfer(nbytes)
        self.queues.give_back(queue)
        return self._phases(queue, start, asked, got, moving, env.now)


class PerCoreEngines(DmaSystem):
    """Trn2 what-if: each core owns an integrated DMA engine; the engines share the total."""

    name = "per_core"
    channel_label = "DMA engine of core"
    group_label = "DMA engines (one per core)"

    @classmethod
    def channels_in_use(cls, config, ncores):
        return ncores

    @classmethod
    def total_bytes_per_ns(cls, config):
        return min(config.memory.hbm_bytes_per_ns, config.dma.dma_total_bytes_per_ns)

    @classmethod
    def describe(cls, config, ncores):
        return f"{ncores} integrated DMA engine{'s' if ncores != 1 else ''}, one per core"

    def plan(self, core: int, nbytes: int) -> Phases:
        start = self.env.now
        moving = start + self.fixed_ns
        end = moving + max(0.0, nbytes) / self.bandwidth.cap
        return _engine_phases(core, start, moving, end)

    def landed(self, flow: Flow) -> Phases:
        return _engine_phases(flow.core, flow.start, flow.moving, flow.end)

    def shared_transfer(self, core: int, nbytes: int):
        env = self.env
        start = env.now
        yield env.timeout(self.fixed_ns)
        moving = env.now
        yield self.bandwidth.transfer(nbytes)
        return _engine_phases(core, start, moving, env.now)


def _engine_phases(core, start, moving, end) -> Phases:
    """A transfer's phases on a core's own engine: the fixed cost, no wait, the data."""
    return Phases(core, start, (start, moving), (moving, moving), moving, moving, end)


ORGANISATIONS: dict[str, type[DmaSystem]] = {
    SharedQueues.name: SharedQueues,
    PerCoreEngines.name: PerCoreEngines,
}


DMA_ORGANISATIONS_IMPLEMENTED = tuple(ORGANISATIONS)


def dma_system_class(config: HardwareConfig) -> type[DmaSystem]:
    """The DMA organisation the preset names."""
    return ORGANISATIONS[config.dma.organisation]
