"""Work that releases the GIL (hashing, NumPy over whole arrays) run beside the main thread.

A run hashes its inputs and computes its reference output: seconds of single-threaded
work at a GiB of input, which needs none of what the kernel does meanwhile. On a machine
with a second core it is free. Only pure functions of arrays nobody writes go here, so the
results are the same bits however the threads interleave.
"""
from __future__ import annotations

import threading


class Background:
    """``fn(*args)`` started now on another thread (with ``thread=False``: done now, on
    this one); ``result()`` waits for it.

    No thread may be alive when the process forks a child that does not exec (the
    functional worker, ``isolation.py``): a lock it held would stay held in the child.
    Callers about to fork pass ``thread=False``; others ``wait()`` before anything that may
    fork, and before giving up on a result.
    """

    def __init__(self, fn, *args, thread: bool = True):
        self._value = self._error = None
        self._thread = None
        if not thread:
            self._run(fn, args)
            return
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True,
                                        name=f"gpsimd_sim {getattr(fn, '__name__', 'work')}")
        self._thread.start()

    def wait(self) -> None:
        """Until the work is done (its outcome kept for ``result``)."""
        if self._thread is not None:
            self._thread.join()

    def _run(self, fn, args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            self._error = exc

    def result(self):
        """The value, or the exception ``fn`` raised, raised here."""
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value
