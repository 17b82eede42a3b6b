"""Device-memory bandwidth shared by the DMA transfers in flight (processor sharing).

Every transfer moving data gets ``min(per-queue bandwidth, total / transfers in flight)``;
when a transfer starts or ends, the others are re-rated. This is the memory side that
services the cores' demand: events are one timer per change, never per byte.
"""
from __future__ import annotations

import simpy

_DONE_BYTES = 1e-3  # float dust left after re-rating: a thousandth of a byte is done


class SharedBandwidth:
    def __init__(self, env: simpy.Environment, total_bytes_per_ns: float,
                 flow_cap_bytes_per_ns: float, on_change=None):
        self.env = env
        self.total = total_bytes_per_ns
        self.cap = flow_cap_bytes_per_ns
        self.flows: list[list] = []   # [remaining bytes, completion event], in arrival order
        self.updated = env.now
        self.generation = 0           # a timer from an older schedule is ignored
        self.on_change = on_change    # called with the total rate drawn after each change
        self.timers = 0

    def rate(self) -> float:
        """Bytes/ns each transfer in flight moves now."""
        n = len(self.flows)
        return min(self.cap, self.total / n) if n else 0.0

    def transfer(self, nbytes: float) -> simpy.Event:
        """An event that fires when ``nbytes`` have moved."""
        self._advance()
        done = self.env.event()
        if nbytes <= 0:
            done.succeed()
            return done
        self.flows.append([float(nbytes), done])
        self._schedule()
        return done

    def _advance(self) -> None:
        now = self.env.now
        if self.flows and now > self.updated:
            moved = (now - self.updated) * self.rate()
            for flow in self.flows:
                flow[0] -= moved
        self.updated = now

    def _schedule(self) -> None:
        self.generation += 1
        if self.on_change is not None:
            self.on_change(len(self.flows) * self.rate())
        if not self.flows:
            return
        wait = max(0.0, min(f[0] for f in self.flows) / self.rate())
        generation = self.generation
        timer = self.env.timeout(wait)
        self.timers += 1
        timer.callbacks.append(lambda _event: self._expire(generation))

    def _expire(self, generation: int) -> None:
        if generation != self.generation:
            return
        self._advance()
        finished = [f for f in self.flows if f[0] <= _DONE_BYTES]
        if not finished:  # rounding left the first finisher a hair short
            finished = [min(self.flows, key=lambda f: f[0])]
        self.flows = [f for f in self.flows if f not in finished]
        for flow in finished:
            flow[1].succeed()
        self._schedule()
