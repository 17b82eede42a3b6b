"""Work that releases the GIL (hashing, NumPy over whole arrays) run beside the main thread.

A run hashes its inputs and computes its reference output: seconds of single-threaded
work at a GiB of input, which needs none of what the kernel does meanwhile. On a machine
with a second core it is free. Only pure functions of arrays nobody writes go here, so the
results are the same bits however the threads interleave.
"""
from __future__ import annotations

import threading


class Background:
    """``fn(*args)`` started now on another thread; ``result()`` waits for it."""

    def __init__(self, fn, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True,
                                        name=f"gpsimd_sim {getattr(fn, '__name__', 'work')}")
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the result
            self._error = exc

    def result(self):
        """The value, or the exception ``fn`` raised, raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
