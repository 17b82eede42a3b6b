"""The DMA queues the GPSIMD cores share, handed out first come, first served.

Free queues are handed out in the order they were returned (rotation), which spreads
transfers over the queues as hardware round-robin would; a core that finds none waits, in
FIFO order, for the next one returned. Two books keep this:

- ``QueueBook``, when every transfer's end is known as it is issued (device-memory
  bandwidth never binds): each queue's next free time is booked at once, so a transfer's
  wait needs no simulation event at all;
- ``QueuePool``, when transfers share bandwidth and are timed phase by phase (an end is
  known only when it happens): a free list, and an event for a core that must wait, fired
  when a queue is given back (``fluid.FluidBandwidth`` keeps the same two lists when it
  works the ends out ahead).
"""
from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

import simpy


class QueuePool:
    def __init__(self, env: simpy.Environment, count: int):
        self.env = env
        self.free = deque(range(count))
        self.waiting: deque[simpy.Event] = deque()

    def take(self) -> int | simpy.Event:
        """A free queue's id now, or an event whose value is the id once one is free."""
        if self.free:
            return self.free.popleft()
        event = self.env.event()
        self.waiting.append(event)
        return event

    def give_back(self, queue: int) -> None:
        if self.waiting:
            self.waiting.popleft().succeed(queue)
        else:
            self.free.append(queue)


class QueueBook:
    """The queues as a book of when each is next free, for transfers whose ends are known
    when they are issued.

    Exactly ``QueuePool``'s first-come-first-served rotation: transfers are issued in the
    order they ask for a queue (the trigger cost is the same for all), the queue free
    longest is the one at the head of the pool's free list, and a waiting transfer gets the
    first queue returned. Ties go to the queue returned first, as the pool's do.
    """

    def __init__(self, count: int):
        self.free_at = [(0.0, k, k) for k in range(count)]  # (free from, order returned, id)
        self.returned = count

    def take(self, asked: float) -> tuple[int, float]:
        """The queue a transfer asking at ``asked`` gets, and when it gets it."""
        free_from, _, queue = heappop(self.free_at)
        return queue, (asked if free_from <= asked else free_from)

    def give_back(self, queue: int, at: float) -> None:
        heappush(self.free_at, (at, self.returned, queue))
        self.returned += 1
