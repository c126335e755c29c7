"""Accepting connections on the listeners from the accepting thread's selector, and backing off
when accept() keeps failing.

Each wake-up accepts everything the kernel has queued (up to the listen backlog, the most it
can hold), so a burst of connects is taken in one go rather than a few per turn of the loop.

At the descriptor limit (EMFILE, ENFILE), out of kernel memory (ENOBUFS, ENOMEM), or on any
other accept() error that is not one connection's own, the waiting connection stays queued and
the listener stays readable: retrying at once spins the thread and floods the log. Instead the
listeners are left out of the selector for a while that grows from BACKOFF_FIRST to BACKOFF_MAX
and then tried again; the condition is logged when it starts, at
most once per REPORT_EVERY while it lasts (with the count of failed attempts), and once more
when the listen queue has been emptied again. Queued clients are served as descriptors free
up; the back-off starts short again after any retry that accepted something.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

from gearmand_py import logs
from gearmand_py.server.frontend import FrontEnd
from gearmand_py.server.listener import Listener, SocketOptions, configure_accepted, endpoint

log = logging.getLogger("gearmand_py.listener")

#: accept() errors that concern only the connection being accepted (Linux reports a queued
#: connection's pending network error from accept()): skip it and take the next one.
CONNECTION_ERRORS = frozenset({
    errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENETDOWN, errno.ENETUNREACH,
    errno.EHOSTDOWN, errno.EHOSTUNREACH, errno.ENOPROTOOPT, errno.EOPNOTSUPP,
})
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 1.0
REPORT_EVERY = 10.0

Take = Callable[[socket.socket, str, FrontEnd], None]


class Watcher(Protocol):
    """What the listeners are watched on: a ``selectors`` selector, or an I/O loop's
    ``Poller``."""

    def register(self, fileobj: Any, events: int, handler: Any, /) -> Any: ...

    def unregister(self, fileobj: Any, /) -> Any: ...


class Acceptor:
    """The listening sockets, watched on one thread's selector; ``take`` gets each new socket."""

    def __init__(self, listeners: list[Listener], options: SocketOptions,
                 backlog: int) -> None:
        #: Each listening socket and what its connections speak.
        self.listeners: dict[socket.socket, FrontEnd] = {
            listener.sock: listener.front_end for listener in listeners}
        self.options = options
        # What a full listen queue holds (Linux queues backlog + 1).
        self.per_wakeup = backlog + 1
        self._selector: Watcher | None = None
        self._take: Take | None = None
        #: While backing off: when to watch the listeners again; None while accepting.
        self.resume_at: float | None = None
        self._backoff = 0.0
        self._failing_since: float | None = None
        self._reported_at = 0.0
        self._failed = 0  # failed accept() calls since the last report

    def watch(self, selector: Watcher, take: Take) -> None:
        self._selector = selector
        self._take = take
        self._register()

    def _register(self) -> None:
        assert self._selector is not None
        for sock in self.listeners:
            self._selector.register(sock, selectors.EVENT_READ, self._ready)

    def _unregister(self) -> None:
        if self._selector is None:
            return
        for sock in self.listeners:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass

    def close(self) -> None:
        """Stop listening (shutdown, or the start of a graceful stop)."""
        self._unregister()
        for sock in self.listeners:
            sock.close()
        self.listeners = {}
        self.resume_at = None

    def tick(self) -> float | None:
        """After every wake-up of the accepting thread: watch the listeners again once the
        back-off is over. Returns the seconds until then (None when not backing off), the most
        the thread may sleep."""
        if self.resume_at is None:
            return None
        wait = self.resume_at - time.monotonic()
        if wait > 0:
            return wait
        self.resume_at = None
        self._register()
        # Try at once: with the queue already empty the listener would never turn readable, so
        # the end of the condition (accept() saying EAGAIN, not EMFILE) would go unseen.
        for sock in list(self.listeners):
            if self.resume_at is None:
                self._ready(sock, selectors.EVENT_READ)
        return None if self.resume_at is None else max(self.resume_at - time.monotonic(), 0.0)

    def _ready(self, listener: socket.socket, _mask: int) -> None:
        take = self._take
        assert take is not None
        accepted = False
        for _ in range(self.per_wakeup):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                if self._failing_since is not None:
                    self._recovered()
                return
            except OSError as exc:
                if exc.errno in CONNECTION_ERRORS:
                    log.debug("accept: a queued connection failed: %s", exc)
                    continue
                self._back_off(exc, accepted)
                return
            accepted = True
            if logs.verbosity.info:
                log.info("Accepted connection %d from %s", sock.fileno(),
                         endpoint(sock.family, address))
            try:
                configure_accepted(sock, self.options)
            except OSError as exc:
                log.debug("socket option failed on new connection: %s", exc)
            take(sock, address[0], self.listeners[listener])

    def _back_off(self, exc: OSError, accepted: bool) -> None:
        """accept() failed for want of a resource: stop watching the listeners for a while,
        longer each time nothing could be accepted."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = self._reported_at = now
            self._backoff = BACKOFF_FIRST
            log.error("accept failed: %s; new connections wait in the listen queue (retrying "
                      "every %g-%g s)", exc, BACKOFF_FIRST, BACKOFF_MAX)
        else:
            self._backoff = BACKOFF_FIRST if accepted else min(self._backoff * 2, BACKOFF_MAX)
            self._failed += 1
            if now - self._reported_at >= REPORT_EVERY:
                log.error("accept still failing: %s (%d failed attempts in the last %.0f s)",
                          exc, self._failed, now - self._reported_at)
                self._reported_at = now
                self._failed = 0
        self._unregister()
        self.resume_at = now + self._backoff

    def _recovered(self) -> None:
        """Everything queued is accepted: the condition is over."""
        assert self._failing_since is not None
        log.log(logs.NOTICE, "accepting connections again after %.1f s of failed attempts",
                time.monotonic() - self._failing_since)
        self._failing_since = None
        self._failed = 0
