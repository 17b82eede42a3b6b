"""Device-memory bandwidth shared by the transfers in flight, worked out ahead of the clock.

The same processor sharing as ``bandwidth.SharedBandwidth`` (each transfer moving data gets
``min(per-channel bandwidth, total / transfers in flight)``, re-rated when one starts or
ends), for when bandwidth binds but no transfer ever waits for a channel. Then a transfer
starts moving exactly its fixed cost after it is issued, and a core issues only while it
runs, so every start before ``(the earliest time a core may run again) + fixed cost`` is
already known, and so is every end the starts imply. ``settle`` works them out in
SharedBandwidth's order and with its arithmetic (every subtraction, every timer at
``now + (due - now)``), and schedules one simulation event per transfer: the issuing core's
wake-up at its end. No fixed-cost timeout, completion event or re-rating timer is scheduled
(tests/test_timing.py checks the figures against the phase-by-phase path to the bit).

Order at one instant, as the phase-by-phase simulation processes it: starts in the order
the transfers were issued; a start and the end the pending timer fires go in the order they
were scheduled (the timer first if it was set no later than the transfer was issued); a
core's wake-up after every ordinary event at its time (it was scheduled when the transfer
ended).
"""
from __future__ import annotations

from heapq import heappop, heappush

from .events import LATE, fire_at

_DONE_BYTES = 1e-3   # as SharedBandwidth: float dust left after re-rating is done
_NEVER = float("inf")


class Flow:
    """One transfer: issued by ``core`` at ``start``, moving from ``arrival``, done at ``end``."""
    __slots__ = ("core", "nbytes", "start", "arrival", "seq", "channel", "remaining", "end",
                 "event")

    def __init__(self, core, nbytes, start, arrival, seq, channel, event):
        self.core, self.nbytes, self.start, self.arrival = core, nbytes, start, arrival
        self.seq, self.channel, self.event = seq, channel, event
        self.remaining = float(nbytes)
        self.end = None


class FluidBandwidth:
    """Processor sharing of ``total`` B/ns between transfers capped at ``cap`` B/ns each."""

    def __init__(self, env, total_bytes_per_ns: float, flow_cap_bytes_per_ns: float,
                 fixed_ns: float, ncores: int, on_change=None, book=None):
        self.env = env
        self.total, self.cap, self.fixed = total_bytes_per_ns, flow_cap_bytes_per_ns, fixed_ns
        # when each core may next issue a transfer: now for a running core, its compute's
        # end, its transfer's end once known; never while that end is still being worked out
        self.resume = [0.0] * ncores
        self.pending: list = []   # (arrival, seq, Flow): issued, not yet moving data
        self.seq = 0
        self.flows: list[Flow] = []   # moving data, in the order they started
        self.updated = 0.0
        self.due = None          # the pending timer's due time, as SharedBandwidth keeps it
        self.fire = _NEVER       # when that timer fires (now + (due - now) when it was set)
        self.set_at = 0.0        # when it was set
        self.book = book         # a QueueBook taken when a transfer starts (None: no queue)
        self.changes = [] if on_change is not None else None   # (time, total rate drawn)

    # -- the cores' side ----------------------------------------------------------------
    def issue(self, core: int, nbytes: int, channel=None) -> Flow:
        """A transfer ``core`` issues now; its ``event`` fires at its end. The core waits."""
        env = self.env
        start = env.now
        flow = Flow(core, nbytes, start, start + self.fixed, self.seq, channel, env.event())
        self.seq += 1
        heappush(self.pending, (flow.arrival, flow.seq, flow))
        self.resume[core] = _NEVER
        self.settle()
        return flow

    def running_until(self, core: int, t: float) -> None:
        """``core`` runs (issues nothing) until ``t`` (``inf``: it has finished)."""
        self.resume[core] = t
        self.settle()

    def booked_changes(self) -> list[tuple[float, float]]:
        """(time, total rate drawn after the change) at every start and end, in time
        order: what the phase-by-phase path tells its counter as they happen."""
        return self.changes or []

    # -- working ahead --------------------------------------------------------------------
    def settle(self) -> None:
        """Process every start and end that no transfer yet to be issued can precede."""
        resume, pending, fixed = self.resume, self.pending, self.fixed
        first = min(resume)
        bound = first + fixed   # no transfer issued from now on starts before this
        while True:
            fire = self.fire
            if pending:
                arrival, _, flow = pending[0]
                timer_first = fire < arrival or (fire == arrival and self.set_at <= flow.start)
            elif fire == _NEVER:
                return
            else:
                timer_first = True
            if timer_first:
                # a transfer issued at ``first`` or later would start at ``bound`` at the
                # earliest, after a timer set by then
                if fire > bound or (fire == bound and self.set_at > first):
                    return
                if self._expire(fire) + fixed < bound:
                    first = min(resume)
                    bound = first + fixed
            else:
                if arrival > bound:
                    return
                heappop(pending)
                self._start(arrival, flow)
                if flow.end is not None and flow.end + fixed < bound:   # moved nothing
                    first = min(resume)
                    bound = first + fixed

    # -- SharedBandwidth's steps, at the time they happen -------------------------------
    def _rate(self) -> float:
        n = len(self.flows)
        return min(self.cap, self.total / n) if n else 0.0

    def _advance(self, now: float) -> None:
        if self.flows and now > self.updated:
            moved = (now - self.updated) * self._rate()
            for flow in self.flows:
                flow.remaining -= moved
        self.updated = now

    def _start(self, now: float, flow: Flow) -> None:
        self._advance(now)
        if self.book is not None:   # the queue free longest (one is always free)
            flow.channel, _ = self.book.take(now)
        if flow.nbytes <= 0:
            self._finish(now, flow)
            return
        self.flows.append(flow)
        self._schedule(now)

    def _schedule(self, now: float) -> None:
        flows = self.flows
        if self.changes is not None:
            self.changes.append((now, len(flows) * self._rate()))
        if not flows:
            self.due, self.fire = None, _NEVER
            return
        due = now + max(0.0, min(f.remaining for f in flows) / self._rate())
        if self.due is not None and abs(due - self.due) <= 1e-9 * max(1.0, due):
            return   # the pending timer already fires then
        self.due, self.fire, self.set_at = due, now + (due - now), now

    def _expire(self, now: float) -> float:
        """The timer firing at ``now``: the transfers it finishes end. Returns ``now``."""
        self.due, self.fire = None, _NEVER
        self._advance(now)
        flows = self.flows
        finished = [f for f in flows if f.remaining <= _DONE_BYTES]
        if not finished:   # rounding left the first finisher a hair short
            finished = [min(flows, key=lambda f: f.remaining)]
        self.flows = [f for f in flows if not any(f is g for g in finished)]
        for flow in finished:
            self._finish(now, flow)
        self._schedule(now)
        return now

    def _finish(self, now: float, flow: Flow) -> None:
        flow.end = now
        if self.book is not None:
            self.book.give_back(flow.channel, now)
        self.resume[flow.core] = now
        fire_at(self.env, flow.event, now, LATE)
