"""The SimPy model of the GPSIMD cores replaying their records on the modelled hardware.

Each core is a process that walks its records in program order. A record's handler
(``kinds.py``) says how long it keeps the core busy and which DMA transfers it makes; the
DMA system (``dma.py``, chosen by the preset) services the transfers, sharing queues and
device-memory bandwidth between the cores. This file only sequences them and keeps the
books: each core's time by category, and (when asked) the timeline.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from ..config.hardware import HardwareConfig
from ..records import CoreTrace, Dma
from .dma import DmaSystem, dma_system_class
from .events import At
from .fluid import NotCertainAhead
from .kinds import CATEGORIES, HANDLERS
from .scheduler import Scheduler


@dataclass
class CoreTiming:
    """One core's simulated time, split by category (``kinds.CATEGORIES``).

    The parts are disjoint and add up to the core's running time: a fill's transfers count
    in "fill" only; "dma_fixed", "dma_wait" and "dma_transfer" hold every other transfer.
    ``phases`` holds the fixed, wait and transfer time of all transfers, fills included.
    """
    core: int
    end_ns: float = 0.0
    parts: dict = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0.0))
    phases: dict = field(default_factory=lambda: {"fixed": 0.0, "wait": 0.0, "transfer": 0.0})
    transfers: int = 0
    bytes: int = 0
    fill_transfers: int = 0
    fill_bytes: int = 0
    loop_calls: int = 0

    def __getattr__(self, name: str) -> float:
        # compute_ns, element_ns, dma_fixed_ns, ...: the parts by their JSON names
        if name.endswith("_ns") and name[:-3] in CATEGORIES:
            return self.parts[name[:-3]]
        raise AttributeError(name)


@dataclass
class Span:
    """One interval on a track of the timeline (a core or a DMA channel)."""
    track: tuple            # ("core", id) or ("dma", channel)
    name: str
    cat: str
    start_ns: float
    end_ns: float
    args: dict


@dataclass
class Instant:
    """Something that happened at one moment on a core (tcm_malloc, tcm_free)."""
    core: int
    name: str
    t_ns: float
    args: dict


@dataclass
class TimingResult:
    simulated_ns: float
    cores: list[CoreTiming]
    spans: list[Span] = field(default_factory=list)
    instants: list[Instant] = field(default_factory=list)
    counters: list[tuple[str, float, float]] = field(default_factory=list)  # (name, t, value)
    events: int = 0
    dma: type[DmaSystem] | None = None   # the DMA organisation that serviced the transfers
    closed_form: bool = False            # timed without events (nothing could contend)


class EngineModel:
    """The modelled hardware for one kernel run."""

    def __init__(self, config: HardwareConfig, record_timeline: bool = True):
        self.config = config
        self.timeline = record_timeline
        self._fresh()

    def _fresh(self) -> None:
        """A new clock and an empty timeline: every run starts from these."""
        self.env = simpy.Environment()
        self.spans: list[Span] = []
        self.instants: list[Instant] = []
        self.counters: list[tuple[str, float, float]] = []

    def _bandwidth_counter(self, total_rate: float) -> None:
        self.counters.append(("hbm_bytes_per_ns", self.env.now, total_rate))

    def _book(self, t: CoreTiming, nbytes: int, h, rec, fills: bool, phases) -> None:
        """A finished transfer's phases into its core's time (and the timeline)."""
        fixed = self.dma.fixed_ns
        wait = phases.wait[1] - phases.wait[0]
        moving = phases.end - phases.moving
        all_phases = t.phases
        all_phases["fixed"] += fixed
        all_phases["wait"] += wait
        all_phases["transfer"] += moving
        t.transfers += 1
        t.bytes += nbytes
        parts = t.parts
        if fills:
            parts["fill"] += phases.end - phases.start
            t.fill_transfers += 1
            t.fill_bytes += nbytes
        else:
            parts["dma_fixed"] += fixed
            parts["dma_wait"] += wait
            parts["dma_transfer"] += moving
        if self.timeline:
            self._transfer_spans(t.core, nbytes, h, rec, phases)

    def _transfer_spans(self, core, nbytes, h, rec, p) -> None:
        op = h.op_name(rec)
        cat = h.trace_cat
        args = {"op": op, "bytes": nbytes, "queue": p.channel, **h.transfer_args(rec)}
        track = ("core", core)
        self._span(track, f"{op}: DMA fixed cost", f"{cat}.fixed", *p.fixed, args)
        self._span(track, f"{op}: wait for a DMA queue", f"{cat}.wait", *p.wait, args)
        self._span(track, op, f"{cat}.transfer", p.moving, p.end,
                   {**args, "ns": p.end - p.moving})
        self._span(("dma", p.channel), f"{op} core {core}", cat, p.held, p.end,
                   {"op": op, "bytes": nbytes, "core": core, **h.transfer_args(rec)})

    def _span(self, track, name, cat, start, end, args) -> None:
        if end > start:  # a zero-length slice says nothing and clutters the view
            self.spans.append(Span(track, name, cat, start, end, args))

    def replay(self, trace: CoreTrace, t: CoreTiming):
        """The SimPy process of one core: its records, in program order."""
        env, config, timeline = self.env, self.config, self.timeline
        track = ("core", trace.core)
        tcm_in_use = 0
        parts = t.parts
        known = {}   # id -> (delay, transfers' bytes) of records met before (as in closed_form)
        dma = self.dma
        planned, plan, shared_transfer = dma.planned, dma.plan, dma.shared_transfer
        fluid, issue, landed = dma.fluid, dma.issue, dma.landed
        if planned:
            book = dma.bandwidth.book
            light = type(env) is Scheduler
        if fluid:   # the bandwidth works ahead until a core may issue: it is told when
            running_until = dma.bandwidth.running_until
        core = trace.core
        dma_kind = HANDLERS[Dma]
        for rec in trace.records:
            if type(rec) is Dma:   # the commonest kind, inline: one transfer, no core time
                h, dt, chunks = dma_kind, None, (rec.nbytes,)
            else:
                h = HANDLERS[type(rec)]
                if h.instant:
                    change = h.tcm_change(rec)
                    if change:
                        tcm_in_use += change
                        if timeline:
                            self.counters.append((f"tcm core {trace.core}", env.now,
                                                  tcm_in_use))
                    if timeline:
                        self.instants.append(Instant(trace.core, h.label(rec), env.now,
                                                     h.args(rec)))
                    continue
                costs = known.get(id(rec))
                if costs is None:
                    costs = known[id(rec)] = (h.delay(rec, config), tuple(h.chunks(rec, config)))
                dt, chunks = costs
            if dt is not None:
                if fluid:
                    running_until(core, env.now + dt)   # the timeout's own end
                yield env.timeout(dt)
                parts[h.category] += dt
                if h.category == "compute":
                    t.loop_calls += 1
                if timeline:
                    name, args = h.span(rec)
                    self._span(track, name, h.category, env.now - dt, env.now, args)
            for nbytes in chunks:   # each transfer the core issues, waited for
                if planned:   # known when issued: one event, at its end
                    phases = plan(core, nbytes)
                    book(phases.moving, phases.end)
                    yield env.wake_at(phases.end) if light else At(env, phases.end)
                elif fluid:   # its end worked out ahead: one event, at its end
                    flow = issue(core, nbytes)
                    yield flow.event
                    phases = landed(flow)
                else:
                    phases = yield from shared_transfer(core, nbytes)
                self._book(t, nbytes, h, rec, h.category == "fill", phases)
        t.end_ns = env.now
        if fluid:
            running_until(core, float("inf"))   # it issues no more

    def run(self, traces: list[CoreTrace], work_ahead: bool = True,
            scheduler: bool = True) -> TimingResult:
        """Replay ``traces``; shared bandwidth worked out ahead where it can be
        (``work_ahead=False``: phase by phase, the reference the tests compare with); where
        it never binds, on ``scheduler.Scheduler`` (``scheduler=False``: on SimPy's own
        loop, the reference the tests compare with)."""
        if work_ahead and not self._takes_an_instant(traces):
            try:
                return self._run(traces, True, scheduler)
            except NotCertainAhead:   # two steps at one instant only SimPy's order settles
                pass                  # timed again phase by phase (``_run`` starts afresh)
        return self._run(traces, False, scheduler)

    def _takes_an_instant(self, traces: list[CoreTrace]) -> bool:
        """True when a record takes no time or a transfer moves no bytes, where bandwidth
        binds: working ahead would stop at it (``NotCertainAhead``), so the run is timed
        phase by phase from the start rather than twice."""
        system = dma_system_class(self.config)
        if not system.memory_limited(self.config, len(traces)):
            return False
        config, seen = self.config, set()
        for trace in traces:
            for rec in trace.records:
                if type(rec) is Dma:
                    if rec.nbytes <= 0:
                        return True
                    continue
                if id(rec) in seen:   # a loop's calls that did the same work share one
                    continue
                seen.add(id(rec))
                h = HANDLERS[type(rec)]
                if h.instant:
                    continue
                if h.delay(rec, config) == 0 or any(n <= 0 for n in h.chunks(rec, config)):
                    return True
        return False

    def _run(self, traces: list[CoreTrace], work_ahead: bool, scheduler: bool) -> TimingResult:
        system = dma_system_class(self.config)
        self._fresh()
        if scheduler and not system.memory_limited(self.config, len(traces)):
            self.env = Scheduler()   # planned transfers: the cores only wait for time
        self.dma = system(self.env, self.config, len(traces),
                          self._bandwidth_counter if self.timeline else None, work_ahead)
        timings = [CoreTiming(tr.core) for tr in traces]
        for tr, t in zip(traces, timings):
            self.env.process(self.replay(tr, t))
        self.env.run()
        if self.timeline:   # transfers planned or worked out ahead told the counter nothing yet
            self.counters += [("hbm_bytes_per_ns", t, rate)
                              for t, rate in self.dma.bandwidth.booked_changes()]
        end = max((t.end_ns for t in timings), default=0.0)
        return TimingResult(end, timings, self.spans, self.instants, self.counters,
                            events_scheduled(self.env), system)


def events_scheduled(env: simpy.Environment) -> int:
    """Every event SimPy scheduled in this environment (its event-id counter)."""
    return next(env._eid)  # noqa: SLF001 - SimPy numbers each scheduled event


def closed_form(traces: list[CoreTrace], config: HardwareConfig) -> TimingResult:
    """The timing without a single event, for when no transfer can contend.

    Every transfer then takes its fixed cost plus its bytes at the channel's rate (no wait:
    the wait parts stay 0), and a core's time is the sum of its records' times. The sums
    are made in the order and with the operations the event path makes (``now + delay``
    per timeout), so every figure is bit-for-bit the event path's (tests/test_timing.py
    checks it).
    """
    system = dma_system_class(config)
    fixed, rate = config.dma.dma_fixed_ns, config.dma.dma_bytes_per_ns
    timings = []
    for tr in traces:
        t = CoreTiming(tr.core)
        parts, phases = t.parts, t.phases
        now = 0.0
        calls = transfers = nbytes_all = fill_transfers = fill_bytes = 0
        # a record met again as the same object (a loop's calls that did the same work
        # share one) is costed once: id -> (instant, delay, category, transfers' bytes)
        known = {}
        dma_fixed = dma_transfer = 0.0   # parts of the non-fill transfers (none waits)
        fixed_all = transfer_all = 0.0   # phases of all transfers, fills included
        for rec in tr.records:
            if type(rec) is Dma:   # the commonest kind, inline: DmaKind's one transfer
                now = now + fixed
                moving = now
                now = now + rec.nbytes / rate   # a Dma's bytes are never negative
                fixed_all += fixed
                transfer_all += now - moving
                transfers += 1
                nbytes_all += rec.nbytes
                dma_fixed += fixed
                dma_transfer += now - moving
                continue
            costs = known.get(id(rec))
            if costs is None:
                h = HANDLERS[type(rec)]
                costs = known[id(rec)] = (True, None, "", ()) if h.instant else (
                    False, h.delay(rec, config), h.category, tuple(h.chunks(rec, config)))
            instant, dt, category, chunks = costs
            if instant:
                continue
            if dt is not None:
                now = now + dt
                parts[category] += dt
                if category == "compute":
                    calls += 1
            fills = category == "fill"
            for nbytes in chunks:
                start = now
                now = now + fixed
                moving = now
                now = now + max(0.0, nbytes) / rate
                fixed_all += fixed
                transfer_all += now - moving
                transfers += 1
                nbytes_all += nbytes
                if fills:
                    parts["fill"] += now - start
                    fill_transfers += 1
                    fill_bytes += nbytes
                else:
                    dma_fixed += fixed
                    dma_transfer += now - moving
        phases["fixed"] += fixed_all
        phases["transfer"] += transfer_all
        parts["dma_fixed"] += dma_fixed
        parts["dma_transfer"] += dma_transfer
        t.end_ns, t.loop_calls, t.transfers, t.bytes = now, calls, transfers, nbytes_all
        t.fill_transfers, t.fill_bytes = fill_transfers, fill_bytes
        timings.append(t)
    end = max((t.end_ns for t in timings), default=0.0)
    return TimingResult(end, timings, events=0, dma=system, closed_form=True)


def simulate_timing(traces: list[CoreTrace], config: HardwareConfig,
                    record_timeline: bool = True, events: bool | None = None) -> TimingResult:
    """Replay the cores' records on the preset's hardware.

    Closed-form when no transfer can contend and no timeline is wanted (``events`` None);
    ``events=True`` forces the event path, ``False`` insists on the closed form.
    """
    system = dma_system_class(config)
    if events is None:
        events = record_timeline or not system.never_contends(config, len(traces))
    if not events:
        return closed_form(traces, config)
    return EngineModel(config, record_timeline).run(traces)
