"""Wall time this process spends in Numba's compiler, so training clocks can leave it out.

Numba announces every use of its compiler through its event API
(:mod:`numba.core.event`): a ``"numba:compiler_lock"`` event spans one
acquisition of the global compiler lock, and ``Dispatcher.compile`` holds that
lock for type inference, code generation and loading a kernel from the on-disk
cache alike. :func:`compile_seconds` is the total wall time during which at
least one thread of this process was inside that lock (or waiting for it):
the lock is re-entrant, so a kernel compiling its callees opens nested events,
and those count once. The listener is registered when this module is imported.
"""

from __future__ import annotations

import threading
import time

from numba.core import event

COMPILER_LOCK = "numba:compiler_lock"


class CompileClock(event.Listener):
    """Sums the wall time of the outermost compiler-lock events over all threads;
    ``clock`` () -> seconds is the time source."""

    def __init__(self, clock=time.perf_counter):
        self._clock = clock
        self._guard = threading.Lock()
        self._depth = threading.local()  # nesting of the current thread's events
        self._inside = 0  # threads whose outermost event is open
        self._since = 0.0  # perf_counter when the first of them entered
        self._total = 0.0

    def on_start(self, ev) -> None:
        depth = getattr(self._depth, "n", 0)
        self._depth.n = depth + 1
        if depth == 0:
            with self._guard:
                if self._inside == 0:
                    self._since = self._clock()
                self._inside += 1

    def on_end(self, ev) -> None:
        depth = getattr(self._depth, "n", 0)
        if depth == 0:  # opened before the listener was registered
            return
        self._depth.n = depth - 1
        if depth == 1:
            with self._guard:
                self._inside -= 1
                if self._inside == 0:
                    self._total += self._clock() - self._since

    def seconds(self) -> float:
        """Seconds in the compiler so far, including a compilation still running."""
        with self._guard:
            running = self._clock() - self._since if self._inside else 0.0
            return self._total + running


_CLOCK = CompileClock()
event.register(COMPILER_LOCK, _CLOCK)


def compile_seconds() -> float:
    """Wall seconds this process has spent compiling Numba kernels or loading them from
    the cache since :mod:`pgbench.kernels.timing` was imported (monotone)."""
    return _CLOCK.seconds()
