"""Device-memory bandwidth shared by the DMA transfers in flight (processor sharing).

Every transfer moving data gets ``min(per-queue bandwidth, total / transfers in flight)``;
when a transfer starts or ends, the others are re-rated. This is the memory side that
services the cores' demand: one timer per change of the earliest completion, never per byte.
"""
from __future__ import annotations

import simpy

_DONE_BYTES = 1e-3  # float dust left after re-rating: a thousandth of a byte is done


class ProcessorSharing:
    """The arithmetic of sharing ``total`` B/ns between the transfers moving data, each
    capped at ``cap`` B/ns: the one copy both the phase-by-phase path (``SharedBandwidth``)
    and the path worked out ahead (``fluid.FluidBandwidth``) use, so the two agree to the
    bit. ``flows`` hold objects with a ``remaining`` byte count, in the order they started;
    every step is told the time it happens at."""

    def __init__(self, total_bytes_per_ns: float, flow_cap_bytes_per_ns: float):
        self.total = total_bytes_per_ns
        self.cap = flow_cap_bytes_per_ns
        self.flows: list = []
        self.updated = 0.0
        self.rate = 0.0          # bytes/ns each transfer moving data gets now
        self.due = None          # when the earliest of them ends, as last scheduled

    def _rerate(self) -> None:
        """After a transfer starts or ends: every transfer's share."""
        n = len(self.flows)
        self.rate = min(self.cap, self.total / n) if n else 0.0

    def _advance(self, now: float) -> None:
        """The bytes moved since the last step, at the rate then."""
        if self.flows and now > self.updated:
            moved = (now - self.updated) * self.rate
            for flow in self.flows:
                flow.remaining -= moved
        self.updated = now

    def _start(self, now: float, flow) -> None:
        self._advance(now)
        self.flows.append(flow)
        self._rerate()

    def _due_moved(self, now: float) -> bool:
        """``due`` after a change at ``now`` (None: nothing moving); True when it moved, so
        a new timer is needed (a pending timer within 1e-9 of it stands)."""
        flows = self.flows
        if not flows:
            self.due = None
            return False
        due = now + max(0.0, min([f.remaining for f in flows]) / self.rate)
        if self.due is not None and abs(due - self.due) <= 1e-9 * max(1.0, due):
            return False
        self.due = due
        return True

    def _finish_due(self, now: float) -> list:
        """The timer due at ``now`` fires: the transfers it ends, taken out."""
        self.due = None
        self._advance(now)
        flows = self.flows
        finished = [f for f in flows if f.remaining <= _DONE_BYTES]
        if not finished:  # rounding left the first finisher a hair short
            finished = [min(flows, key=lambda f: f.remaining)]
        self.flows = [f for f in flows if f not in finished]   # (by identity: no __eq__)
        self._rerate()
        return finished


class _Moving:
    """A transfer moving data on the phase-by-phase path, and the event of its end."""
    __slots__ = ("remaining", "done")

    def __init__(self, remaining: float, done: simpy.Event):
        self.remaining, self.done = remaining, done


class SharedBandwidth(ProcessorSharing):
    def __init__(self, env: simpy.Environment, total_bytes_per_ns: float,
                 flow_cap_bytes_per_ns: float, on_change=None):
        super().__init__(total_bytes_per_ns, flow_cap_bytes_per_ns)
        self.env = env
        self.booked: list[tuple[float, int]] = []   # (time, +1 start / -1 end)
        self.updated = env.now
        self.generation = 0           # a timer from an older schedule is ignored
        self.on_change = on_change    # called with the total rate drawn after each change

    def transfer(self, nbytes: float) -> simpy.Event:
        """An event that fires when ``nbytes`` have moved (when bandwidth can bind: else
        each transfer's end is known when it is issued, and only ``book``-ed: the DMA
        system's ``planned``)."""
        now = self.env.now
        done = self.env.event()
        if nbytes <= 0:
            self._advance(now)
            done.succeed()
            return done
        self._start(now, _Moving(float(nbytes), done))
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

    def _schedule(self) -> None:
        now = self.env.now
        if self.on_change is not None:
            self.on_change(len(self.flows) * self.rate)
        if not self._due_moved(now):
            return   # nothing moving, or the pending timer already fires then
        self.generation += 1
        generation = self.generation
        timer = self.env.timeout(self.due - now)
        timer.callbacks.append(lambda _event: self._expire(generation))

    def _expire(self, generation: int) -> None:
        if generation != self.generation:
            return
        for flow in self._finish_due(self.env.now):
            flow.done.succeed()
        self._schedule()
