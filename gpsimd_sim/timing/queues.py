"""The DMA queues the GPSIMD cores share: a free list, and cores waiting in FIFO order.

A free queue is taken at once, without a simulation event; only a core that must wait for
one gets an event, fired when a queue is given back. Free queues are handed out in the order
they were returned (rotation), which spreads transfers over the queues as hardware
round-robin would.
"""
from __future__ import annotations

from collections import deque

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
