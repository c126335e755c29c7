"""The processing thread: runs batches through the core and writes the replies it produces.

It alone touches the ``Engine``. One turn takes the batches waiting in its mailbox (up to
``MAX_TURN_BATCHES``) and runs them; then it writes each connection's replies to its socket
directly, which on a busy server saves a wake-up of the I/O thread per reply (fg jobs/s at
``-t 4`` nearly doubled). A worker's replies go out as soon as its own packets are handled,
everyone else's at the end of the turn. What a socket does not take at once, and everything
after it until the I/O loop reports it written (DRAINED), goes to the connection's I/O loop in
one hand-off per loop per turn, so order is kept and a slow reader never blocks this thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from gearmand_py.core.engine import Engine, RequestFailed
from gearmand_py.server.batches import CLOSED, CONNECTED, DRAINED, JOURNALED, Batch
from gearmand_py.server.mailbox import Inbox

if TYPE_CHECKING:
    from gearmand_py.core.model import Peer
    from gearmand_py.server.connection import Connection
    from gearmand_py.server.io_loop import IOLoop

log = logging.getLogger("gearmand_py.processor")

_STOP = object()
#: The longest a processing turn waits for a timer, in seconds.
MAX_WAIT = 3600.0
#: Batches one turn runs before it flushes (a busy fg run at -t 4 averages about ten; running
#: only those waiting when the turn began cost about 10% of its jobs/s).
MAX_TURN_BATCHES = 100


def _write(conn: Connection, data: bytes) -> bytes:
    """Send what the socket takes now; return the rest (nothing if the peer is gone: its I/O
    loop will see the hang-up and report CLOSED)."""
    try:
        sent = conn.sock.send(data)
    except (BlockingIOError, InterruptedError):
        return data
    except OSError as exc:
        log.debug("send on fd %d failed: %s", conn.fd, exc)
        return b""
    return memoryview(data)[sent:] if sent < len(data) else b""  # type: ignore[return-value]


def _joined(out: list[bytes]) -> bytes:
    """Take everything in ``out`` as one bytes object."""
    data = out[0] if len(out) == 1 else b"".join(out)
    out.clear()
    return data


class Processor:
    """Drives an ``Engine`` from batches of connection events."""

    def __init__(self, engine: Engine, after_turn: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.mailbox = Inbox()
        self.running = True
        #: Called after every turn, from the processing thread (shutdown checks live there).
        self.after_turn = after_turn

    def handle(self, batch: Batch) -> None:
        """Apply one batch from an I/O loop to the core."""
        engine = self.engine
        for kind, conn, payload in batch:
            if kind == JOURNALED:
                engine.journaled(*payload)
                continue
            if kind == DRAINED:
                conn.handed -= payload
                continue
            peer = conn.peer
            try:
                if kind == CONNECTED:
                    conn.peer = engine.connect(conn, conn.fd, conn.ip)
                elif kind == CLOSED:
                    if peer is not None:
                        engine.disconnect(peer)
                        conn.peer = None  # no cycle left for the garbage collector
                    conn.sock.close()
                elif peer is not None:
                    engine.receive(peer, payload)
                    if peer.functions and peer.out:
                        self._write_now(peer)
            except RequestFailed as exc:  # a bug must cost one connection, never the server
                log.error("internal error handling %s on connection %d (%s); closing it",
                          exc, conn.fd, conn.ip, exc_info=exc.__cause__)
                if conn.peer is not None:
                    engine.close(conn.peer)

    @staticmethod
    def _write_now(worker: Peer) -> None:
        """Write a worker's replies as soon as its packets are handled, not with the rest of
        the turn: its next job is what keeps every job moving, and a worker gets one reply per
        request, so this costs no extra send. fg medians over three series of 6-12 alternating
        runs: +8-15% jobs/s at -t 4, +1-15% at -t 0. Writing clients this way too lost the gain
        at -t 0: a client also receives results relayed later in the turn, so it costs a send."""
        conn = worker.endpoint
        if conn.handed or worker.closing:
            return  # earlier output is still with the I/O loop: flush() keeps the order
        rest = _write(conn, _joined(worker.out))
        if rest:  # the socket is full: the I/O loop writes the rest, and all after it
            conn.handed += 1
            conn.loop.post_output([(conn, rest, False)])

    def tick(self) -> float | None:
        """Run due timers, flush, run the after-turn hook; return seconds until the next timer."""
        engine = self.engine
        timers = engine.timers
        if timers:
            timers.run_due(engine.clock())
        self.flush()
        self.after_turn()
        deadline = timers.next_deadline()
        if deadline is None:
            return None
        # epoll cannot wait longer than about 24 days; waking early is harmless.
        return min(max(deadline - engine.clock(), 0.0), MAX_WAIT)

    def flush(self) -> None:
        """Write the bytes the core produced to their sockets; hand what is left to the loops."""
        engine = self.engine
        handoffs: dict[IOLoop, list[tuple[Connection, bytes, bool]]] = {}
        # Disconnecting a closed peer can requeue its jobs and wake other workers, so repeat
        # until the core has nothing more to say.
        dirty = engine.take_output()
        while dirty:
            for peer in dirty:
                conn = peer.endpoint
                data = _joined(peer.out)
                close = peer.closing
                if close:
                    engine.disconnect(peer)
                    conn.peer = None
                elif not data:  # a peer that went away after its output was produced
                    continue
                elif not conn.handed:
                    data = _write(conn, data)
                    if not data:
                        continue
                conn.handed += 1
                items = handoffs.get(conn.loop)
                if items is None:
                    items = handoffs[conn.loop] = []
                items.append((conn, data, close))
            dirty = engine.take_output()
        for loop, items in handoffs.items():
            loop.post_output(items)

    # -- threaded mode ---------------------------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        """Called by I/O threads."""
        self.mailbox.put(batch)

    def stop(self) -> None:
        self.mailbox.put(_STOP)

    def nudge(self) -> None:
        """Make the processing thread take a turn (to notice a state change from elsewhere)."""
        self.mailbox.put([])

    def run(self) -> None:
        """The processing thread's loop: wait for batches, run them, flush.

        A turn also runs the batches that arrive while it runs (bigger turns, fewer sends),
        but at most MAX_TURN_BATCHES, so that however fast input keeps coming the replies are
        flushed and a slow reader's output reaches its I/O loop, which then stops reading from
        it."""
        mailbox = self.mailbox
        items = mailbox.items
        timeout = None
        while self.running:
            mailbox.wait(timeout)
            for _ in range(MAX_TURN_BATCHES):
                if not items:
                    break
                batch = items.popleft()
                if batch is _STOP:
                    self.running = False
                    break
                self.handle(batch)
            timeout = self.tick()
