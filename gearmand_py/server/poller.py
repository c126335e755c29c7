"""epoll with one handler per descriptor: what an I/O loop waits on.

``selectors`` turns every wake-up into a list of (key, mask) pairs, looking each key up through
method calls, and finds a key by its file object through several more; a loop that turns once
per request (a serial job is three or four turns) paid for that on every turn. This keeps one
dict, descriptor -> (file object, handler, events), and its owner walks epoll's own result.
Only the thread that owns a poller calls it; other threads reach that thread through its
mailbox.

The handlers and masks are those of ``selectors`` (``handler(fileobj, EVENT_READ |
EVENT_WRITE)``, a hang-up or error reported as both, masked by what is watched), so the
acceptor registers with either.
"""

from __future__ import annotations

import select
from collections.abc import Callable
from selectors import EVENT_READ, EVENT_WRITE
from typing import Any, Final

Handler = Callable[[Any, int], None]

_EPOLL = {EVENT_READ: select.EPOLLIN, EVENT_WRITE: select.EPOLLOUT,
          EVENT_READ | EVENT_WRITE: select.EPOLLIN | select.EPOLLOUT}
#: Extra flag for ``register``: wake one of the threads waiting on the descriptor, not all
#: (0 where the kernel or Python lacks it: all are woken, and the others find nothing).
EXCLUSIVE: int = getattr(select, "EPOLLEXCLUSIVE", 0)
_NOT_IN = ~select.EPOLLIN
_NOT_OUT = ~select.EPOLLOUT


#: Every bit epoll may report for a descriptor watched for EPOLLIN and EPOLLOUT only (EPOLLERR
#: and EPOLLHUP it reports unasked).
REPORTED: Final = (select.EPOLLIN | select.EPOLLPRI | select.EPOLLOUT | select.EPOLLERR
                   | select.EPOLLHUP)


def _selector_mask(event: int) -> int:
    """The ``selectors`` mask for an epoll event (a hang-up or error is both)."""
    return (EVENT_WRITE if event & _NOT_IN else 0) | (EVENT_READ if event & _NOT_OUT else 0)


#: ``MASKS[event & REPORTED]``: an event's ``selectors`` mask, looked up rather than computed
#: by a call on every wake-up.
MASKS: Final = tuple(_selector_mask(event) for event in range(REPORTED + 1))


class Poller:
    """The descriptors one thread waits on, each with its handler."""

    __slots__ = ("_epoll", "entries", "poll")

    def __init__(self) -> None:
        self._epoll = select.epoll()
        #: fd -> (file object, handler, events watched).
        self.entries: dict[int, tuple[Any, Handler, int]] = {}
        #: ``poll(timeout)``: wait up to ``timeout`` seconds (None: no limit); (fd, epoll event)
        #: of each ready descriptor (up to 1023 per call; the rest come with the next). Its
        #: handler, if ``entries`` still has it, gets ``MASKS[event & REPORTED]`` masked by
        #: what it watches. epoll's own method, so a wait adds no Python call.
        self.poll: Callable[[float | None], list[tuple[int, int]]] = self._epoll.poll

    def register(self, fileobj: Any, events: int, handler: Handler, flags: int = 0) -> None:
        """Watch ``fileobj`` for ``events``; ``flags``: EXCLUSIVE (which epoll cannot add by
        ``modify``) or 0."""
        fd = fileobj.fileno()
        self._epoll.register(fd, _EPOLL[events] | flags)
        self.entries[fd] = (fileobj, handler, events)

    def modify(self, fileobj: Any, events: int, handler: Handler | None = None) -> None:
        """Watch ``fileobj`` for ``events`` instead; its handler stays unless one is given."""
        fd = fileobj.fileno()
        self._epoll.modify(fd, _EPOLL[events])
        self.entries[fd] = (fileobj, self.entries[fd][1] if handler is None else handler, events)

    def unregister(self, fileobj: Any) -> None:
        """Stop watching ``fileobj`` (before it is closed); KeyError if it is not watched."""
        fd = fileobj.fileno()
        del self.entries[fd]
        self._epoll.unregister(fd)

    def watched(self, fileobj: Any) -> tuple[Any, Handler, int] | None:
        """(file object, handler, events) for ``fileobj``, or None if it is not watched."""
        return self.entries.get(fileobj.fileno())

    def close(self) -> None:
        self._epoll.close()
