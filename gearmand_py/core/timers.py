"""Deadlines the processing thread keeps: epoch jobs coming due and CAN_DO_TIMEOUT expiries.

A heap of ``[when, seq, callback, args]`` entries. ``cancel`` empties an entry in place (so it no
longer holds the job it was for) and the heap is rebuilt without the empty ones once they are
half of it, so a worker that finishes jobs long before their timeouts keeps neither its jobs nor
a growing heap alive. A callback that raises is a bug: it is logged and the others still run.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("gearmand_py.core")

#: Cancelled entries tolerated before the heap is rebuilt without them, at the least.
MIN_COMPACT = 64

Timer = list[Any]
"""A heap entry, returned by ``call_at`` for ``cancel``."""


class Timers:
    """Callbacks due at wall-clock times."""

    __slots__ = ("heap", "_seq", "_cancelled")

    def __init__(self) -> None:
        #: The entries, cancelled ones included; a turn looks at it to skip the timers when
        #: there are none (a method call costs more than the rest of that test).
        self.heap: list[Timer] = []
        self._seq = itertools.count()
        self._cancelled = 0

    def __len__(self) -> int:
        """Timers still to run."""
        return len(self.heap) - self._cancelled

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Timer:
        timer = [when, next(self._seq), callback, args]
        heapq.heappush(self.heap, timer)
        return timer

    def cancel(self, timer: Timer) -> None:
        """Never run ``timer``, and let go of what it refers to now."""
        if timer[2] is None:
            return
        timer[2] = None
        timer[3] = ()
        self._cancelled += 1
        if self._cancelled >= MIN_COMPACT and self._cancelled * 2 >= len(self.heap):
            self.heap = [t for t in self.heap if t[2] is not None]
            heapq.heapify(self.heap)
            self._cancelled = 0

    def next_deadline(self) -> float | None:
        heap = self.heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)
            self._cancelled -= 1
        return heap[0][0] if heap else None

    def run_due(self, now: float) -> None:
        """Run every callback whose time has come, earliest first."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            timer = heapq.heappop(heap)
            callback, args = timer[2], timer[3]
            if callback is None:
                self._cancelled -= 1
                continue
            timer[2] = None  # it ran: cancelling it now changes nothing
            try:
                callback(*args)
            except Exception:
                log.exception("internal error in timer %s", getattr(callback, "__name__", callback))
