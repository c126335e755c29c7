"""Accepting connections on the listeners from a thread's poller, and backing off when
accept() keeps failing.

Each wake-up accepts everything the kernel has queued (up to the listen backlog, the most it
can hold), so a burst of connects is taken in one go rather than a few per turn of the loop.

One ``Acceptor`` per accepting thread, all on one shared ``Listening``: with ``-t 0`` the main
thread accepts; with ``-t 1`` the thread that reads, processes and writes does; with ``-t 2`` or
more every I/O thread accepts the connections it will serve, so no connection is handed from one
thread to another (a wake-up each). There the listeners are registered with EPOLLEXCLUSIVE, so
that the kernel wakes one waiting I/O thread per connection rather than all of them. An acceptor
is only ever used from its own thread; a listener is closed once the last acceptor watching it
lets go, so its descriptor is never reused while another thread's poller still holds it. With
``-r http`` at ``-t 2`` or more the processing thread accepts the HTTP connections and the I/O
threads the gear ones (``protocols``).

At the descriptor limit (EMFILE, ENFILE), out of kernel memory (ENOBUFS, ENOMEM), or on any
other accept() error that is not one connection's own, the waiting connection stays queued and
the listener stays readable: retrying at once spins the thread and floods the log. Instead the
thread leaves the listeners out of its poller for a while that grows from BACKOFF_FIRST to
BACKOFF_MAX and then tries again; the condition is logged (once for all threads) when it starts,
at most once per REPORT_EVERY while it lasts (with the count of failed attempts), and once more
when the listen queue has been emptied again. Queued clients are served as descriptors free
up; the back-off starts short again after any retry that accepted something.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from selectors import EVENT_READ

from gearmand_py import logs
from gearmand_py.server.frontend import FrontEnd
from gearmand_py.server.listener import Listener, SocketOptions, configure_accepted, endpoint
from gearmand_py.server.poller import EXCLUSIVE, Poller
from gearmand_py.verbosity import verbosity

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


class Listening:
    """The listening sockets and what each one's connections speak, shared by the acceptors;
    and the report of a failing accept(), which is the same condition for all of them."""

    def __init__(self, listeners: list[Listener], options: SocketOptions,
                 backlog: int) -> None:
        self.sockets: dict[socket.socket, FrontEnd] = {
            listener.sock: listener.front_end for listener in listeners}
        self.options = options
        # What a full listen queue holds (Linux queues backlog + 1).
        self.per_wakeup = backlog + 1
        #: Per socket, the acceptors watching it that have not let go of it yet.
        self._holders: dict[socket.socket, int] = {}
        # Acceptors on several threads report into the same state.
        self._lock = threading.Lock()
        self._failing_since: float | None = None
        self._reported_at = 0.0
        self._failed = 0  # failed accept() calls since the last report

    def hold(self, sockets: list[socket.socket]) -> None:
        """An acceptor starts watching ``sockets``."""
        with self._lock:
            for sock in sockets:
                self._holders[sock] = self._holders.get(sock, 0) + 1

    def release(self, sockets: list[socket.socket]) -> None:
        """An acceptor stopped watching ``sockets``; the last one to let go of one closes it."""
        with self._lock:
            done = []
            for sock in sockets:
                self._holders[sock] -= 1
                if self._holders[sock] <= 0:
                    del self._holders[sock]
                    done.append(sock)
            if done:
                # A new dict rather than deletions: other threads iterate the one they read.
                self.sockets = {sock: front_end for sock, front_end in self.sockets.items()
                                if sock not in done}
        for sock in done:
            sock.close()

    def close(self) -> None:
        """Stop listening: at shutdown."""
        sockets, self.sockets = self.sockets, {}
        for sock in sockets:
            sock.close()

    def failed(self, exc: OSError) -> None:
        """An acceptor's accept() failed for want of a resource: log it when the condition
        starts, then at most once per REPORT_EVERY, whichever thread fails."""
        now = time.monotonic()
        with self._lock:
            if self._failing_since is None:
                self._failing_since = self._reported_at = now
                log.error("accept failed: %s; new connections wait in the listen queue "
                          "(retrying every %g-%g s)", exc, BACKOFF_FIRST, BACKOFF_MAX)
                return
            self._failed += 1
            if now - self._reported_at >= REPORT_EVERY:
                log.error("accept still failing: %s (%d failed attempts in the last %.0f s)",
                          exc, self._failed, now - self._reported_at)
                self._reported_at = now
                self._failed = 0

    def emptied(self) -> None:
        """An acceptor found the listen queue empty: a failing condition is over."""
        if self._failing_since is None:
            return
        with self._lock:
            if self._failing_since is None:
                return
            log.log(logs.NOTICE, "accepting connections again after %.1f s of failed attempts",
                    time.monotonic() - self._failing_since)
            self._failing_since = None
            self._failed = 0


class Acceptor:
    """The listeners watched on one thread's poller; ``take`` gets each new socket."""

    def __init__(self, listening: Listening, exclusive: bool = False,
                 protocols: frozenset[str] | None = None) -> None:
        """``exclusive``: other threads' pollers watch the same listeners (EPOLLEXCLUSIVE);
        ``protocols``: watch only the listeners that speak one of these (default: all)."""
        self.listening = listening
        self.exclusive = exclusive
        self.protocols = protocols
        self._poller: Poller | None = None
        self._take: Take | None = None
        #: The listeners this acceptor holds (``Listening.hold``) while it watches them.
        self._held: list[socket.socket] = []
        #: While backing off: when to watch the listeners again; None while accepting.
        self.resume_at: float | None = None
        #: The current back-off in seconds; 0 while accept() works.
        self._backoff = 0.0
        self.watching = False

    def watch(self, poller: Poller, take: Take) -> None:
        self._poller = poller
        self._take = take
        self._held = self._watched()
        self.listening.hold(self._held)
        self.watching = True
        self._register()

    def _register(self) -> None:
        poller = self._poller
        assert poller is not None
        for sock in self._watched():
            poller.register(sock, EVENT_READ, self._ready,
                              EXCLUSIVE if self.exclusive else 0)

    def _unregister(self) -> None:
        if self._poller is None:
            return
        for sock in self._watched():
            try:
                self._poller.unregister(sock)
            except (KeyError, ValueError):
                pass

    def _watched(self) -> list[socket.socket]:
        sockets = self.listening.sockets
        protocols = self.protocols
        return [sock for sock, front_end in sockets.items()
                if protocols is None or front_end.protocol in protocols]

    def close(self) -> None:
        """This thread stops accepting (shutdown, or the start of a graceful stop)."""
        if not self.watching:
            return
        self.watching = False
        self._unregister()
        self.resume_at = None
        self.listening.release(self._held)
        self._held = []

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
        for sock in self._watched():
            if self.resume_at is None:
                self._ready(sock, EVENT_READ)
        return None if self.resume_at is None else max(self.resume_at - time.monotonic(), 0.0)

    def _ready(self, listener: socket.socket, _mask: int) -> None:
        take = self._take
        assert take is not None
        listening = self.listening
        accepted = False
        for _ in range(listening.per_wakeup):
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                self._backoff = 0.0
                listening.emptied()
                return
            except OSError as exc:
                if exc.errno in CONNECTION_ERRORS:
                    log.debug("accept: a queued connection failed: %s", exc)
                    continue
                self._back_off(exc, accepted)
                return
            accepted = True
            if verbosity.info:
                log.info("Accepted connection %d from %s", sock.fileno(),
                         endpoint(sock.family, address))
            try:
                configure_accepted(sock, listening.options)
            except OSError as exc:
                log.debug("socket option failed on new connection: %s", exc)
            take(sock, address[0], listening.sockets[listener])

    def _back_off(self, exc: OSError, accepted: bool) -> None:
        """accept() failed for want of a resource: stop watching the listeners for a while,
        longer each time nothing could be accepted."""
        self._backoff = (BACKOFF_FIRST if accepted or not self._backoff
                         else min(self._backoff * 2, BACKOFF_MAX))
        self.listening.failed(exc)
        self._unregister()
        self.resume_at = time.monotonic() + self._backoff
