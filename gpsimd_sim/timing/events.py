"""A SimPy event at an absolute time, exactly.

``env.timeout(delay)`` fires at ``now + delay``, and ``now + (end - now)`` need not be
``end`` in floating point; a transfer planned when it is issued must end at the very ``end``
the phase-by-phase simulation would reach, bit for bit.
"""
from __future__ import annotations

from heapq import heappush

import simpy
from simpy.events import NORMAL


class At(simpy.Event):
    """An event that fires at simulated time ``when`` (not before now), like a Timeout."""

    def __init__(self, env: simpy.Environment, when: float):
        # the fields Timeout sets, and the heap entry env.schedule makes, with the time as given
        self.env = env
        self.callbacks = []
        self._value = None
        self._ok = True
        if when < env.now:
            raise ValueError(f"an event at {when} is in the past (now {env.now})")
        heappush(env._queue, (when, NORMAL, next(env._eid), self))  # noqa: SLF001
