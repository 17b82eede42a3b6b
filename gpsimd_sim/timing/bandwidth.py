"""Device-memory bandwidth shared by the DMA transfers in flight (processor sharing).

Every transfer moving data gets ``min(per-queue bandwidth, total / transfers in flight)``;
when a transfer starts or ends, the others are re-rated. This is the memory side that
services the cores' demand: one timer per change of the earliest completion, never per byte.
"""
from __future__ import annotations

import simpy

_DONE_BYTES = 1e-3  # float dust left after re-rating: a thousandth of a byte is done


class SharedBandwidth:
    def __init__(self, env: simpy.Environment, total_bytes_per_ns: float,
                 flow_cap_bytes_per_ns: float, on_change=None):
        self.env = env
        self.booked: list[tuple[float, int]] = []   # (time, +1 start / -1 end)
        self.total = total_bytes_per_ns
        self.cap = flow_cap_bytes_per_ns
        self.flows: list[list] = []   # [remaining bytes, completion event], in arrival order
        self.updated = env.now
        self.generation = 0           # a timer from an older schedule is ignored
        self.due = None               # when the current timer fires
        self.on_change = on_change    # called with the total rate drawn after each change

    def rate(self) -> float:
        """Bytes/ns each transfer in flight moves now."""
        n = len(self.flows)
        return min(self.cap, self.total / n) if n else 0.0

    def transfer(self, nbytes: float) -> simpy.Event:
        """An event that fires when ``nbytes`` have moved (when bandwidth can bind: else
        each transfer's end is known when it is issued, and only ``book``-ed: the DMA
        system's ``planned``)."""
        self._advance()
        done = self.env.event()
        if nbytes <= 0:
            done.succeed()
            return done
        self.flows.append([float(nbytes), done])
        self._schedule()
        return done

    def book(self, start: float, end: float) -> None:
        """A transfer moving data at the full per-queue rate from ``start`` to ``end``
        (bandwidth never binds), kept for the bandwidth counter (``booked_changes``)."""
        if self.on_change is not None:
            self.booked += ((start, 1), (end, -1))

    def booked_changes(self) -> list[tuple[float, float]]:
        """(time, total rate drawn after the change) for every booked start and end, in
        time order: what ``on_change`` would have been told as they happened."""
        changes, in_flight = [], 0
        for t, step in sorted(self.booked, key=lambda change: change[0]):
            in_flight += step
            changes.append((t, in_flight * self.cap))
        return changes

    def _advance(self) -> None:
        now = self.env.now
        if self.flows and now > self.updated:
            moved = (now - self.updated) * self.rate()
            for flow in self.flows:
                flow[0] -= moved
        self.updated = now

    def _schedule(self) -> None:
        if self.on_change is not None:
            self.on_change(len(self.flows) * self.rate())
        if not self.flows:
            self.due = None
            return
        due = self.env.now + max(0.0, min(f[0] for f in self.flows) / self.rate())
        if self.due is not None and abs(due - self.due) <= 1e-9 * max(1.0, due):
            return  # the pending timer already fires then: no new event
        self.generation += 1
        self.due = due
        generation = self.generation
        timer = self.env.timeout(due - self.env.now)
        timer.callbacks.append(lambda _event: self._expire(generation))

    def _expire(self, generation: int) -> None:
        if generation != self.generation:
            return
        self.due = None
        self._advance()
        finished = [f for f in self.flows if f[0] <= _DONE_BYTES]
        if not finished:  # rounding left the first finisher a hair short
            finished = [min(self.flows, key=lambda f: f[0])]
        self.flows = [f for f in self.flows if f not in finished]
        for flow in finished:
            flow[1].succeed()
        self._schedule()
