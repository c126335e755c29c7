"""Deadlines the processing thread keeps: epoch jobs coming due and CAN_DO_TIMEOUT expiries.

A plain heap; a timer is never cancelled, its callback checks whether it still applies, which is
cheaper than bookkeeping on the hot path and cannot act on a reused object by mistake as long as
callbacks compare identities.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any


class Timers:
    """Callbacks due at wall-clock times."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), callback, args))

    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_due(self, now: float) -> None:
        """Run every callback whose time has come, earliest first."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            _when, _seq, callback, args = heapq.heappop(heap)
            callback(*args)
