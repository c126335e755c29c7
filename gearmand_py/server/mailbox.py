"""The hand-off between threads: a deque of batches plus a wake-up written only when the consumer
sleeps.

Appending to a ``collections.deque`` is atomic under the GIL, so producers never take a lock. The
consumer announces ``sleeping`` before its last look at the deque and its blocking wait; a
producer that sees the flag writes to the eventfd (a pipe where eventfd is missing) to wake it.
A consumer that is busy is never woken through the kernel, so a loaded server pays no syscall per
batch.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

_ONE = (1).to_bytes(8, "little")


class Mailbox:
    """Many producers, one consumer; the consumer waits on ``fileno()`` in its own selector."""

    __slots__ = ("items", "sleeping", "_rfd", "_wfd")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.sleeping = False
        if hasattr(os, "eventfd"):
            self._rfd = self._wfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - non-Linux
            self._rfd, self._wfd = os.pipe()
            os.set_blocking(self._rfd, False)
            os.set_blocking(self._wfd, False)

    def fileno(self) -> int:
        return self._rfd

    def put(self, item: Any) -> None:
        """Hand ``item`` to the consumer (from any thread)."""
        self.items.append(item)
        if self.sleeping:
            self.sleeping = False
            try:
                os.write(self._wfd, _ONE)
            except BlockingIOError:  # pragma: no cover - the wake-up is already pending
                pass

    def drain(self) -> None:
        """Consume pending wake-ups (the consumer calls this when ``fileno()`` is readable)."""
        try:
            os.read(self._rfd, 4096)
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self._rfd)
        if self._wfd != self._rfd:
            os.close(self._wfd)
