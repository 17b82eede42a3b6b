"""Device-memory bandwidth shared by the transfers in flight, worked out ahead of the clock.

The same processor sharing as ``bandwidth.SharedBandwidth``, with the same arithmetic
(``bandwidth.ProcessorSharing``: each transfer moving data gets ``min(per-channel
bandwidth, total / transfers in flight)``, re-rated when one starts or ends), and the same
queues as ``queues.QueuePool`` (handed out in rotation, waited for in FIFO order), for
when bandwidth binds. A core issues a transfer only while it runs, and a transfer asks for
its queue (or starts, on a per-core engine, or with a queue it took as it was issued,
``dma_fixed_holds_queue``) exactly its fixed cost after it is issued, so as long as that
cost moves the clock, every step before ``(the earliest time a core may run again) + fixed
cost`` is already certain: the transfers issued so far, the ends they imply, the queues
those ends hand on. ``settle`` works them out in the order the phase-by-phase simulation
(``DmaSystem.shared_transfer``) processes them, each timer firing at ``now + (due - now)``
as SimPy's would, and schedules one simulation event per transfer: the issuing core's
wake-up at its end. No fixed-cost timeout, completion event, re-rating
timer or wait for a queue is scheduled.

Each step has the key the phase-by-phase simulation orders it by: (time, when it was
made, tier, issue order). At one instant a step made earlier goes first; among steps made
at the same instant, transfers issued by running cores (tier 1), then a held queue's
transfer starting its fixed cost (2), then queues given back where a completion event
would have been processed (3), then the waiting transfers they are handed to (4). A core's
wake-up is scheduled with priority ``events.LATE``: after every event already scheduled
for its instant, as a completion event made when the transfer ended would be.

Where that order is not known ahead, the run raises ``NotCertainAhead`` and the engine
times it again phase by phase: the bandwidth's timer and a step due at the same instant
and made at the same instant (which went first depends on which event made each); a
record that takes no time (its zero timeout went after completion events made at that
instant, before any made later); a transfer of no bytes; a fixed cost too small to move
the clock (``now + fixed == now``: a step due as it is made). tests/test_timing.py checks every
figure and the timeline against the phase-by-phase path.
"""
from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

from .bandwidth import ProcessorSharing
from .events import LATE, fire_at

_NEVER = float("inf")

# what a step does
_START, _ASK, _GIVE = 0, 1, 2
# tiers: the order of steps made at the same instant
_ISSUED, _HELD, _GIVEN, _HANDED = 1, 2, 3, 4


class NotCertainAhead(Exception):
    """Two steps at one instant whose order only the phase-by-phase simulation knows."""


class Flow:
    """One transfer: issued by ``core`` at ``start``, asking for a queue at ``asked``,
    getting it at ``got``, moving data from ``moving``, done at ``end``."""
    __slots__ = ("core", "nbytes", "start", "asked", "got", "moving", "channel", "remaining",
                 "end", "event")

    def __init__(self, core, nbytes, start, channel, event):
        self.core, self.nbytes, self.start, self.channel = core, nbytes, start, channel
        self.event = event
        self.asked = self.got = self.moving = self.end = None
        self.remaining = float(nbytes)


class FluidBandwidth(ProcessorSharing):
    """Processor sharing of ``total`` B/ns between transfers capped at ``cap`` B/ns each,
    over ``queues`` shared queues (None: an engine per core), a queue taken before the
    fixed cost when ``hold``."""

    def __init__(self, env, total_bytes_per_ns: float, flow_cap_bytes_per_ns: float,
                 fixed_ns: float, ncores: int, on_change=None, queues: int | None = None,
                 hold: bool = False):
        super().__init__(total_bytes_per_ns, flow_cap_bytes_per_ns)
        self.env = env
        self.fixed = fixed_ns
        # when each core may next issue a transfer: now for a running core, its compute's
        # end, its transfer's end once known; never while that end is still being worked out
        self.resume = [0.0] * ncores
        self.steps: list = []    # (time, made, tier, seq, what, Flow), a heap
        self.seq = 0
        self.fire = _NEVER       # when the timer for ``due`` fires (now + (due - now))
        self.set_at = 0.0        # when it was set
        self.woken = _NEVER      # the earliest end worked out in this settle
        self.queued = queues is not None
        self.hold = hold
        self.free = deque(range(queues or 0))   # as QueuePool: in the order given back
        self.waiting: deque[Flow] = deque()
        self.changes = [] if on_change is not None else None   # (time, total rate drawn)

    # -- the cores' side ----------------------------------------------------------------
    def issue(self, core: int, nbytes: int) -> Flow:
        """A transfer ``core`` issues now; its ``event`` fires at its end. The core waits."""
        env = self.env
        now = env.now
        if nbytes <= 0:   # done as it starts: its wake-up's place is not known ahead
            raise NotCertainAhead
        after = now + self.fixed
        if after == now:   # a fixed cost too small to move the clock: as none
            raise NotCertainAhead
        flow = Flow(core, nbytes, now, core, env.event())
        if not self.queued:                 # its own engine: starts after the fixed cost
            flow.asked = flow.got = now
            flow.moving = after
            self._step(after, now, _ISSUED, _START, flow)
        elif not self.hold:                 # asks for a queue after the fixed cost
            flow.asked = after
            self._step(after, now, _ISSUED, _ASK, flow)
        else:                               # takes a queue first, held through the fixed cost
            flow.asked = now
            if self.free:
                self._held(flow, self.free.popleft(), now, _ISSUED)
            else:
                self.waiting.append(flow)
        self.resume[core] = _NEVER
        self.settle()
        return flow

    def given_back(self, flow: Flow) -> None:
        """``flow``'s core is awake at its end; a queue held through the fixed cost is given
        back now (one not held was given back as the transfer was worked out)."""
        if self.hold:
            if self.waiting:
                self._held(self.waiting.popleft(), flow.channel, self.env.now, _HELD)
            else:
                self.free.append(flow.channel)

    def running_until(self, core: int, t: float) -> None:
        """``core`` runs (issues nothing) until ``t`` (``inf``: it has finished)."""
        if t == self.env.now:   # a zero timeout: where it goes among wake-ups is unknown
            raise NotCertainAhead
        self.resume[core] = t
        self.settle()

    def booked_changes(self) -> list[tuple[float, float]]:
        """(time, total rate drawn after the change) at every start and end, in time
        order: what the phase-by-phase path tells its counter as they happen."""
        return self.changes or []

    # -- working ahead --------------------------------------------------------------------
    def settle(self) -> None:
        """Take every step that no transfer yet to be issued can precede: one issued from
        now on asks or starts at ``first + fixed`` at the earliest, made at ``first``,
        tier 1. (Keys are compared field by field, not as tuples, for speed.)"""
        steps, fixed = self.steps, self.fixed
        first = min(self.resume)
        bound = first + fixed
        self.woken = _NEVER
        while True:
            fire, set_at = self.fire, self.set_at
            if steps and (steps[0][0] < fire or (steps[0][0] == fire and steps[0][1] <= set_at)):
                # a step goes before the timer if due earlier, or due together and made
                # earlier (made together too: which goes first is not known ahead)
                when, made, tier, _, what, flow = steps[0]
                if when > bound or (when == bound and (
                        made > first or (made == first and tier > _ISSUED))):
                    return
                if when == fire and made == set_at:
                    raise NotCertainAhead
                heappop(steps)
                self._take(when, what, flow)
            else:
                # the timer, unless a transfer issued from now on may come first (made at
                # ``first`` too: not known ahead which)
                if fire == _NEVER or fire > bound or (fire == bound and set_at >= first):
                    return
                self._expire(fire)
            if self.woken < first:   # a transfer ended: its core may issue sooner
                first = self.woken
                bound = first + fixed

    def _take(self, now: float, what: int, flow: Flow) -> None:
        """One step other than the timer's."""
        if what == _START:
            self._start(now, flow)
        elif what == _ASK:
            if self.free:
                flow.channel, flow.got = self.free.popleft(), now
                self._start(now, flow)
            else:
                self.waiting.append(flow)
        elif self.waiting:   # _GIVE: the queue goes to the first transfer waiting
            handed = self.waiting.popleft()
            handed.channel, handed.got = flow.channel, now
            self._step(now, now, _HANDED, _START, handed)
        else:
            self.free.append(flow.channel)

    def _step(self, when: float, made: float, tier: int, what: int, flow: Flow) -> None:
        heappush(self.steps, (when, made, tier, self.seq, what, flow))
        self.seq += 1

    def _held(self, flow: Flow, queue: int, now: float, tier: int) -> None:
        """``flow`` takes ``queue`` now and starts moving after the fixed cost."""
        flow.channel, flow.got = queue, now
        flow.moving = now + self.fixed
        if flow.moving == now:   # a fixed cost too small to move the clock: as none
            raise NotCertainAhead
        self._step(flow.moving, now, tier, _START, flow)

    # -- the bandwidth's steps (ProcessorSharing's arithmetic), at the time they happen --
    def _start(self, now: float, flow: Flow) -> None:
        flow.moving = now
        ProcessorSharing._start(self, now, flow)   # (``issue`` refuses zero bytes)
        self._schedule(now)

    def _schedule(self, now: float) -> None:
        if self.changes is not None:
            self.changes.append((now, len(self.flows) * self.rate))
        if self._due_moved(now):   # the timer fires as SimPy's would: now + delay
            self.fire, self.set_at = now + (self.due - now), now
        elif self.due is None:
            self.fire = _NEVER

    def _expire(self, now: float) -> None:
        """The timer firing at ``now``: the transfers it finishes end."""
        self.fire = _NEVER
        for flow in self._finish_due(now):
            self._finish(now, flow)
        self._schedule(now)

    def _finish(self, now: float, flow: Flow) -> None:
        flow.end = now
        self.resume[flow.core] = now
        if now < self.woken:
            self.woken = now
        fire_at(self.env, flow.event, now, LATE)
        if self.queued and not self.hold:   # given back where its core would wake
            self._step(now, now, _GIVEN, _GIVE, flow)
