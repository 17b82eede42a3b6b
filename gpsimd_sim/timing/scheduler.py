"""A discrete-event loop with SimPy's order and none of its objects, for processes that only
wait for time.

Where device-memory bandwidth never binds, every transfer's phases are known when it is
issued (``DmaSystem.planned``): a core's process then only waits, for a record's time or
for a transfer's end, and never for another process. Such a run needs no events, callbacks
or triggers, only SimPy's order: (time, priority, the order events were made in). This loop
keeps that order with one heap entry per wait, so a run's figures, timeline and event count
are SimPy's to the bit (tests/test_timing.py runs both), at a fraction of the cost per event:
the replays of an error band's members go through it.
"""
from __future__ import annotations

from heapq import heappop, heappush
from itertools import count

from simpy.events import NORMAL, URGENT


class Scheduler:
    """The part of ``simpy.Environment`` a planned replay uses: ``now``, ``process``,
    ``timeout`` and ``wake_at`` (the instant ``events.At`` fires), then ``run``. A
    process calls ``timeout`` or ``wake_at`` while it is being resumed (the wait is the
    resumed process's) and then yields (the value yielded is not looked at)."""

    def __init__(self) -> None:
        self._queue: list = []
        self._eid = count()   # SimPy's event counter (events.events_scheduled reads it)
        self._now = 0        # an int, as SimPy starts: it shows in a timeline at time 0
        self._active = None   # the process being resumed: the one a wait is for

    @property
    def now(self) -> float:
        return self._now

    def process(self, generator) -> None:
        """Start ``generator`` now, before any ordinary event at this instant (SimPy's
        Initialize event, URGENT)."""
        heappush(self._queue, (self._now, URGENT, next(self._eid), generator))

    def timeout(self, delay: float) -> None:
        """The active process waits ``delay``: it resumes at ``now + delay``, the sum
        SimPy's Timeout makes."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")   # as SimPy's Timeout
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), self._active))

    def wake_at(self, when: float) -> None:
        """The active process waits until ``when`` exactly (``events.fire_at``)."""
        if when < self._now:
            raise ValueError(f"an event at {when} is in the past (now {self._now})")
        heappush(self._queue, (when, NORMAL, next(self._eid), self._active))

    def run(self) -> None:
        """Resume processes in SimPy's order until none waits."""
        queue = self._queue
        while queue:
            when, _, _, generator = heappop(queue)
            self._now = when
            self._active = generator
            try:
                generator.send(None)
            except StopIteration:
                # SimPy schedules the ended process as an event of its own: nothing waits
                # for it, but it takes a number in the event order (and the count)
                next(self._eid)
        self._active = None
