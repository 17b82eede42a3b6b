"""SimPy events at an absolute time, exactly.

``env.timeout(delay)`` fires at ``now + delay``, and ``now + (end - now)`` need not be
``end`` in floating point; a transfer whose end is worked out ahead must end at the very
``end`` the phase-by-phase simulation would reach, bit for bit.
"""
from __future__ import annotations

from heapq import heappush

import simpy
from simpy.events import NORMAL

# After every ordinary event at the same time. The phase-by-phase simulation made a
# completion event when the transfer ended, so it went after every event already scheduled
# for that instant; it would also go before an event made later at that instant, but only
# a zero-time record's timeout or a fixed cost the clock absorbs can be, and a run with
# either is timed phase by phase (fluid.NotCertainAhead).
LATE = NORMAL + 1


def fire_at(env: simpy.Environment, event: simpy.Event, when: float,
            priority: int = NORMAL) -> None:
    """Schedule ``event`` (not yet triggered) to fire, with no value, at ``when``."""
    if when < env.now:
        raise ValueError(f"an event at {when} is in the past (now {env.now})")
    event._ok = True          # noqa: SLF001 - what Event.succeed sets
    event._value = None       # noqa: SLF001
    # the heap entry env.schedule makes, with the time as given
    heappush(env._queue, (when, priority, next(env._eid), event))  # noqa: SLF001


class At(simpy.Event):
    """An event that fires at simulated time ``when`` (not before now), like a Timeout."""

    def __init__(self, env: simpy.Environment, when: float):
        # the fields Timeout sets
        self.env = env
        self.callbacks = []
        fire_at(env, self, when)
