"""The hand-off between threads: a deque of batches plus a wake-up given only when the consumer
sleeps.

Appending to a ``collections.deque`` is atomic under the GIL, so producers never take a lock. The
consumer announces ``sleeping`` before its last look at the deque and its blocking wait; a
producer that sees the flag wakes it. A consumer that is busy is never woken through the kernel,
so a loaded server pays no syscall per batch.

Two kinds of wake-up: ``Mailbox`` writes to an eventfd (a pipe where eventfd is missing), for an
I/O loop that waits on its sockets and its mail in one ``select``; ``Inbox`` releases a lock the
consumer blocks on, for a thread that waits on nothing else (the processing thread, the queue
writer). The lock costs no syscall to give and one futex to take, against an eventfd's write,
select and read, each of which lets go of the GIL and invites another thread to take it.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from typing import Any

_ONE = (1).to_bytes(8, "little")


class _Mail:
    """The deque and the sleeping flag; subclasses say how a sleeping consumer is woken."""

    __slots__ = ("items", "sleeping")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.sleeping = False

    def put(self, item: Any) -> None:
        """Hand ``item`` to the consumer (from any thread)."""
        self.items.append(item)
        if self.sleeping:
            self.sleeping = False
            self._wake()

    def _wake(self) -> None:
        raise NotImplementedError


class Mailbox(_Mail):
    """Many producers, one consumer; the consumer waits on ``fileno()`` in its own selector."""

    __slots__ = ("_rfd", "_wfd")

    def __init__(self) -> None:
        super().__init__()
        if hasattr(os, "eventfd"):
            self._rfd = self._wfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:  # pragma: no cover - non-Linux
            self._rfd, self._wfd = os.pipe()
            os.set_blocking(self._rfd, False)
            os.set_blocking(self._wfd, False)

    def fileno(self) -> int:
        return self._rfd

    def _wake(self) -> None:
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


class Inbox(_Mail):
    """Many producers, one consumer that blocks in ``wait()`` and on nothing else."""

    __slots__ = ("_wakeup",)

    def __init__(self) -> None:
        super().__init__()
        #: Held while nobody has woken the consumer; a producer releases it, the consumer's
        #: ``acquire`` takes it back.
        self._wakeup = threading.Lock()
        self._wakeup.acquire()

    def _wake(self) -> None:
        try:
            self._wakeup.release()
        except RuntimeError:  # another producer woke it first
            pass

    def wait(self, timeout: float | None) -> None:
        """Return once something is in ``items`` or ``timeout`` seconds have passed (at once if
        something is there already; now and then early, which callers shrug off)."""
        self.sleeping = True
        if not self.items:
            self._wakeup.acquire(timeout=-1 if timeout is None else timeout)
        self.sleeping = False
