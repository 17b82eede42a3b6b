"""The wall-time limit on interpreted kernel code (``--timeout``), by SIGALRM.

The alarm is paused while a compiled ``@loop`` runs (or numba compiles it): a signal cannot
stop machine code anyway (the loop's iteration budget does that), and an exception raised
inside numba's compiler could leave it half-done.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

from .errors import WallTimeLimit

_armed = False  # is a wall limit running in this process?
# While a compiled @loop runs, an alarm is only noted (``native``/``expired``): a signal
# cannot stop machine code anyway (its iteration budget does), and two setitimer calls per
# loop call would cost more than many loops themselves.
native = False
expired = False
_message = ""


def raise_expired() -> None:
    """Raise the wall-time limit noted while compiled code ran."""
    global expired
    expired = False
    raise WallTimeLimit(_message)


@contextmanager
def wall_limit(seconds: float | None, path: str):
    """Stop a kernel stuck in interpreted Python after ``seconds`` of wall time."""
    global _armed, expired
    if not seconds or not hasattr(signal, "SIGALRM") or _armed:
        yield
        return

    def expire(signum, frame):
        global expired, _message
        # Re-arm first: an exception raised while a finaliser or gc callback runs is
        # swallowed by Python, and the next alarm must then try again.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        message = (f"{path}: the kernel did not finish within {seconds:g} s of wall time "
                   "(--timeout)")
        if native:  # inside a compiled @loop's call (numba may be compiling): noted only,
            _message, expired = message, True   # raised when the call returns
            return
        raise WallTimeLimit(message)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    _armed = True
    try:
        yield
    finally:
        _armed = False
        expired = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def alarm_paused():
    """Hold the wall-time alarm while compiled code runs; the time left resumes after."""
    if not _armed:
        yield
        return
    left, _ = signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        yield
    finally:
        if _armed:
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
