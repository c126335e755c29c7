"""An I/O thread: one epoll loop (``poller``) that reads, decodes and writes for its connections.

It reads in large chunks, decodes there (so the processing thread only sees events), and hands
the processing thread one batch per loop turn holding everything every readable socket produced.
The processing thread writes its replies to the sockets itself while they take them (a hand-off
back here would cost one more thread wake-up per reply); what a socket does not take at once is
handed to the loop, which writes it when the socket is writable, keeps the order of everything
handed after it (copying small output into one buffer, keeping large fields as they are), stops
reading from a peer that lets too much pile up, and reports DRAINED once it is all written. It
also stops reading from a peer the processing thread pauses (one whose events wait for another
peer's output to drain) until it is resumed, and from one whose input waits for the processing
thread (MAX_READS_AHEAD).

Who calls whom from which thread: with ``-t 2`` or more, N such loops each own their sockets,
the processing thread writes to them only as said above, and everything else reaches a loop
through its mailbox. With ``-t 1`` (as in gearmand) one loop runs the processing core in its own
thread (``with_core``: output and pauses are plain calls); with ``-t 0`` that loop runs in the
main thread. With ``-r http`` and ``-t 2`` or more, such a loop in the processing thread serves
the HTTP connections, and the N loops the gear ones. In every mode a loop accepts the
connections it serves itself (``accept``; with ``-t 2`` or more all loops watch the listeners,
see ``acceptor``), so a new connection is never handed from one thread to another; the main
thread tells it to stop accepting by mail.

A TLS connection (``tls``) is read and written like a plain one; the loop runs its handshake
without blocking, closes the connection if the handshake is not done within
``--ssl-handshake-timeout``, and tells the core of the connection once it is done. A TLS read
that must first write (a session ticket or key update the socket did not take) waits for the
socket to be writable, then reads again.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from selectors import EVENT_READ, EVENT_WRITE
from typing import TYPE_CHECKING, Any, Final

from gearmand_py.core.model import HIGH_WATER
from gearmand_py.protocol.codec import LARGE
from gearmand_py.server.acceptor import Acceptor
from gearmand_py.server.batches import CLOSED, CONNECTED, DRAINED, EVENTS, Batch
from gearmand_py.server.connection import Connection
from gearmand_py.server.frontend import FrontEnd
from gearmand_py.server.mailbox import Mailbox
from gearmand_py.server.poller import MASKS, REPORTED, Poller
from gearmand_py.server.wouldblock import WOULD_BLOCK, WantWrite
from gearmand_py.verbosity import verbosity

if TYPE_CHECKING:
    from gearmand_py.server import wire
    from gearmand_py.server.tls import TlsSocket

log = logging.getLogger("gearmand_py.io")

#: Bytes asked of each recv(). Python allocates that much for the result before shrinking it, and
#: above glibc's mmap threshold (128 KiB) that is an mmap and munmap per call: recv(256 KiB)
#: cost 29 us against 3.4 us for recv(64 KiB) of a 200-byte message.
RECV_SIZE: Final = 64 * 1024
#: Reads of one connection that may wait for the processing thread before the loop stops reading
#: it (at most this many times RECV_SIZE of input in between); it reads again when half are done.
MAX_READS_AHEAD: Final = 16

#: One piece of output the processing thread hands to a loop: the connection, the bytes (a view
#: when the rest of a partial send or a large field) and whether to close after them.
OutputItem = tuple[Connection, bytes | memoryview, bool]

# What the loop's mailbox receives: (kind, payload).
UNLISTEN: Final = 0
OUTPUT: Final = 1
STOP: Final = 2
FORWARD: Final = 3
PAUSE: Final = 4
RECHECK: Final = 5


class IOLoop:
    """Owns sockets; ``sink`` receives each batch for the processing core."""

    def __init__(self, name: str, max_packet_size: int, sink: Callable[[Batch], None],
                 handshake_timeout: float, with_core: bool = False) -> None:
        """``with_core``: the processing core runs in this loop's thread."""
        self.name = name
        self.max_packet_size = max_packet_size
        self.handshake_timeout = handshake_timeout
        #: (deadline, connection) of TLS handshakes, oldest first (one timeout for all, so the
        #: order of arrival is the order of deadlines); finished ones are dropped lazily.
        self.handshakes: deque[tuple[float, Connection]] = deque()
        self.sink = sink
        self.with_core = with_core
        #: Accepts this loop's connections (``accept``).
        self.acceptor: Acceptor | None = None
        self.poller = Poller()
        self.mailbox = Mailbox()
        self.poller.register(self.mailbox, EVENT_READ, self._on_mailbox)
        self.pending: Batch = []
        self.running = True
        self.connections: set[Connection] = set()
        #: With the monitor on: the byte counts of the connections this loop has let go of.
        self.closed_bytes: wire.Closed | None = None

    # -- called from other threads -----------------------------------------------------------

    def accept(self, acceptor: Acceptor) -> None:
        """Serve the connections ``acceptor`` takes (before the loop's thread starts)."""
        self.acceptor = acceptor
        acceptor.watch(self.poller, self._add)

    def stop_accepting(self) -> None:
        """Stop accepting: a graceful stop began (from the main thread)."""
        self.mailbox.put((UNLISTEN, None))

    def post_output(self, items: list[OutputItem]) -> None:
        """Bytes to write (and whether to close after them) that the processing thread could not
        write itself."""
        if not self.with_core:
            self.mailbox.put((OUTPUT, items))
        else:
            self._output(items)

    def pause(self, conn: Connection, paused: bool) -> None:
        """Stop (True) or resume (False) reading from ``conn`` (from the processing thread)."""
        if not self.with_core:
            self.mailbox.put((PAUSE, (conn, paused)))
        else:
            self._pause(conn, paused)

    def recheck(self, conn: Connection) -> None:
        """The processing thread has caught up with ``conn``'s reads: read it again."""
        self.mailbox.put((RECHECK, conn))

    def forward(self, batch: Batch) -> None:
        """Pass a batch from another thread to the sink (with ``with_core``, where the queue
        writer's results reach the core through this loop)."""
        self.mailbox.put((FORWARD, batch))

    def nudge(self) -> None:
        """End the loop's wait, so that a core running with it takes a turn."""
        self.mailbox.put((FORWARD, []))

    def stop(self) -> None:
        self.mailbox.put((STOP, None))

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until ``stop()``; then close every connection."""
        timeout = None
        try:
            while self.running:
                self.run_once(timeout)
                timeout = self.tick()
        finally:
            self.close_all()

    def run_once(self, timeout: float | None) -> None:
        """One turn: wait for sockets or mail, handle them, hand the core what was read."""
        mailbox = self.mailbox
        if self.handshakes:
            timeout = self._handshake_wait(timeout)
        mailbox.sleeping = True
        if mailbox.items or self.pending:  # with -t 0, flush() may have left a DRAINED here
            mailbox.sleeping = False
            timeout = 0
        poller = self.poller
        ready = poller.poll(timeout)
        mailbox.sleeping = False
        entries = poller.entries
        for fd, event in ready:
            entry = entries.get(fd)
            if entry is not None:  # None: unregistered by an earlier handler of this turn
                entry[1](entry[0], MASKS[event & REPORTED] & entry[2])
        if self.handshakes:
            self._expire_handshakes()
        if mailbox.items:
            self._on_mail()
        if self.pending:
            batch = self.pending
            self.pending = []
            self.sink(batch)

    def tick(self) -> float | None:
        """After every turn: the most the next may wait for the acceptor (its back-off)."""
        return None if self.acceptor is None else self.acceptor.tick()

    def _on_mailbox(self, _fileobj: Any, _mask: int) -> None:
        self.mailbox.drain()

    def _on_mail(self) -> None:
        items = self.mailbox.items
        while items:
            kind, payload = items.popleft()
            if kind == OUTPUT:
                self._output(payload)
            elif kind == UNLISTEN:
                if self.acceptor is not None:
                    self.acceptor.close()
            elif kind == FORWARD:
                self.pending.extend(payload)
            elif kind == PAUSE:
                self._pause(*payload)
            elif kind == RECHECK:
                self._recheck(payload)
            else:
                self.running = False

    def _add(self, sock: socket.socket, ip: str, front_end: FrontEnd) -> None:
        endpoint: socket.socket | TlsSocket = sock
        if front_end.tls is not None:
            from gearmand_py.server.tls import TlsSocket  # loads ssl: only with --ssl
            try:
                endpoint = TlsSocket(front_end.tls, sock)
            except OSError as exc:  # the peer is already gone
                log.info("TLS connection %d (%s) lost before its handshake: %s",
                         sock.fileno(), ip, exc)
                sock.close()
                return
        conn = Connection(endpoint, ip, self, self.max_packet_size, front_end)
        self.connections.add(conn)
        ready = self._make_handler(conn)
        self.poller.register(endpoint, EVENT_READ, ready)
        if conn.handshaking:
            self.handshakes.append((time.monotonic() + self.handshake_timeout, conn))
            self._handshake(conn)
        else:
            self.pending.append((CONNECTED, conn, None))
            # A client often sends at once (an HTTP request does): its first events then reach
            # the core in the same batch as the connection, a thread wake-up sooner.
            ready(endpoint, EVENT_READ)

    def _make_handler(self, conn: Connection) -> Callable[[Any, int], None]:
        tls = conn.sock.__class__ is not socket.socket

        def ready(_sock: Any, mask: int) -> None:
            try:
                if conn.handshaking:
                    self._handshake(conn)
                    return
                if mask & EVENT_WRITE:
                    retry_read = conn.read_wants_write
                    conn.read_wants_write = False
                    self._flush(conn)
                    if retry_read and not conn.closed and self._reading(conn):
                        mask |= EVENT_READ
                if mask & EVENT_READ and not conn.closed:
                    self._read(conn)
                    # A TLS record read in part leaves the rest inside the TLS layer, where the
                    # selector cannot see it (recv asks for more than a record holds, so this
                    # is rare).
                    while (tls and not conn.closed
                           and conn.sock.pending()  # type: ignore[union-attr]
                           and self._reading(conn)):
                        self._read(conn)
            except Exception:  # a bug must cost this connection, never the loop
                log.exception("internal error on connection %d (%s); dropping it",
                              conn.fd, conn.ip)
                self._drop(conn)
        return ready

    def _handshake(self, conn: Connection) -> None:
        """One step of a TLS handshake; once it is done the core hears of the connection."""
        sock: TlsSocket = conn.sock  # type: ignore[assignment]
        try:
            sock.do_handshake()
        except WantWrite:
            self.poller.modify(sock, EVENT_WRITE)
            return
        except BlockingIOError:
            self.poller.modify(sock, EVENT_READ)
            return
        except OSError as exc:  # ssl.SSLError included: a plaintext client, a refused certificate
            reason = getattr(exc, "reason", None) or exc.strerror
            log.info("TLS handshake with connection %d (%s) failed: %s", conn.fd, conn.ip,
                     reason or exc)
            self._close(conn)
            return
        conn.handshaking = False
        if verbosity.info:
            log.info("TLS connection %d (%s): %s", conn.fd, conn.ip, sock.describe())
        self.pending.append((CONNECTED, conn, None))
        self._set_interest(conn)

    def _handshake_wait(self, timeout: float | None) -> float | None:
        """``timeout``, cut short to the first unfinished handshake's deadline."""
        handshakes = self.handshakes
        while handshakes and not handshakes[0][1].handshaking:
            handshakes.popleft()
        if not handshakes:
            return timeout
        wait = max(0.0, handshakes[0][0] - time.monotonic())
        return wait if timeout is None else min(timeout, wait)

    def _expire_handshakes(self) -> None:
        """Close the connections whose handshake is past its deadline."""
        handshakes = self.handshakes
        now = time.monotonic()
        while handshakes and handshakes[0][0] <= now:
            _, conn = handshakes.popleft()
            if conn.handshaking and not conn.closed:
                log.info("TLS handshake with connection %d (%s) not done in %g s; closing it",
                         conn.fd, conn.ip, self.handshake_timeout)
                self._close(conn)

    def _pause(self, conn: Connection, paused: bool) -> None:
        if not conn.closed:
            conn.paused = paused
            self._set_interest(conn)

    def _read(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except WantWrite:
            conn.read_wants_write = True
            self._set_interest(conn)
            return
        except WOULD_BLOCK:
            return
        except OSError as exc:
            log.debug("recv on fd %d failed: %s", conn.fd, exc)
            data = b""
        if not data:
            self._drop(conn)
            return
        events = conn.decoder.feed(data)
        if events:
            self.pending.append((EVENTS, conn, events))
            conn.reads += 1
            if conn.reads - conn.reads_done > MAX_READS_AHEAD:
                conn.reading_ahead = True
                self._recheck(conn)
        if conn.decoder.dead:
            # Nothing more is read; the core answers what came before and asks us to close.
            self._set_interest(conn)

    def _recheck(self, conn: Connection) -> None:
        """Read ``conn`` again unless too many of its reads still wait for the processing
        thread."""
        if conn.reading_ahead and conn.reads - conn.reads_done <= MAX_READS_AHEAD:
            conn.reading_ahead = False
        if not conn.closed:
            self._set_interest(conn)

    def _output(self, items: list[OutputItem]) -> None:
        for conn, data, close in items:
            if conn.closed:
                continue
            conn.taken += len(data)
            if data:
                if conn.wbuf or conn.pieces:
                    self._queue(conn, data)
                else:
                    self._send(conn, data)
            if close:
                conn.closing = True
            if conn.closed:
                continue
            if conn.closing and not (conn.wbuf or conn.pieces):
                self._close(conn)
            else:
                if not (conn.wbuf or conn.pieces):
                    self._drained(conn)
                self._set_interest(conn)

    @staticmethod
    def _queue(conn: Connection, data: bytes | memoryview) -> None:
        """Keep ``data`` to write after what is waiting: small output is copied into ``wbuf``;
        a LARGE field (and anything after one) waits as it is in ``pieces``, not copied."""
        if conn.pieces or len(data) >= LARGE:
            conn.pieces.append(data)
            conn.piece_bytes += len(data)
        else:
            conn.wbuf += data

    def _send(self, conn: Connection, data: bytes | memoryview) -> None:
        try:
            sent = conn.sock.send(data)
        except WOULD_BLOCK:
            sent = 0
        except OSError as exc:
            log.debug("send on fd %d failed: %s", conn.fd, exc)
            self._drop(conn)
            return
        if sent < len(data):
            self._queue(conn, memoryview(data)[sent:])

    def _flush(self, conn: Connection) -> None:
        pending = conn.wbuf or (conn.pieces[0] if conn.pieces else None)
        if pending:
            try:
                sent = conn.sock.send(pending)
            except WOULD_BLOCK:
                return
            except OSError as exc:
                log.debug("send on fd %d failed: %s", conn.fd, exc)
                self._drop(conn)
                return
            if pending is conn.wbuf:
                del conn.wbuf[:sent]
            else:
                conn.piece_bytes -= sent
                if sent == len(pending):
                    conn.pieces.popleft()
                else:
                    conn.pieces[0] = memoryview(pending)[sent:]
        if conn.wbuf or conn.pieces:
            self._set_interest(conn)
        elif conn.closing:
            self._close(conn)
        else:
            self._drained(conn)
            self._set_interest(conn)

    def _drained(self, conn: Connection) -> None:
        """Everything handed so far is written: the processing thread may write directly again."""
        if conn.taken:
            self.pending.append((DRAINED, conn, conn.taken))
            conn.taken = 0

    @staticmethod
    def _reading(conn: Connection) -> bool:
        """Whether ``conn`` is read: not when its decoder is dead, it is paused, too many of its
        reads wait for the processing thread or too much of its output is waiting."""
        return (not conn.decoder.dead and not conn.closing and not conn.paused
                and not conn.reading_ahead and len(conn.wbuf) + conn.piece_bytes <= HIGH_WATER)

    def _set_interest(self, conn: Connection) -> None:
        """Read while ``_reading``; write while output is waiting. A connection held back from
        reading with nothing to write is not watched."""
        if conn.handshaking:
            return  # the handshake decides what it waits for
        events = 0
        if self._reading(conn):
            events |= EVENT_READ
        if conn.wbuf or conn.pieces or conn.read_wants_write:
            events |= EVENT_WRITE
        entry = self.poller.watched(conn.sock)
        if events == 0:
            if conn.paused or conn.reading_ahead:
                if entry is not None:
                    self.poller.unregister(conn.sock)
                return
            events = EVENT_READ  # still notice a hang-up; reads are ignored below
        if entry is None:
            self.poller.register(conn.sock, events, self._make_handler(conn))
        elif entry[2] != events:
            self.poller.modify(conn.sock, events)

    def _drop(self, conn: Connection) -> None:
        """The peer went away: stop watching it and tell the core, which closes the socket (the
        processing thread may be writing to it right now, so its descriptor stays ours until
        then)."""
        if not conn.closed:
            self._forget(conn)
            self.pending.append((CLOSED, conn, None))

    def _close(self, conn: Connection) -> None:
        """Close a connection the core asked to close; it writes nothing more to it."""
        self._forget(conn)
        conn.sock.close()

    def _forget(self, conn: Connection) -> None:
        conn.closed = True
        self.connections.discard(conn)
        if self.closed_bytes is not None:  # out of the open set first (wire.Totals)
            self.closed_bytes.add(conn.sock)
        try:
            self.poller.unregister(conn.sock)
        except KeyError:
            pass

    def close_all(self) -> None:
        """At shutdown, once the processing thread has stopped."""
        for conn in list(self.connections):
            self._close(conn)
        self.poller.close()
        self.mailbox.close()
