"""The processing thread: runs batches through the core and writes the replies it produces.

It alone touches the ``Engine``. One turn takes the batches waiting in its mailbox (up to
``MAX_TURN_BATCHES``) and runs them; then it writes each connection's replies to its socket
directly, which on a busy server saves a wake-up of the I/O thread per reply (fg jobs/s at
``-t 4`` nearly doubled). A worker's replies go out as soon as its own packets are handled,
everyone else's at the end of the turn. What a socket does not take at once, and everything
after it until the I/O loop reports it written (DRAINED), goes to the connection's I/O loop in
one hand-off per loop per turn, so order is kept and a slow reader never blocks this thread.
It counts the bytes handed and not yet written per connection: past HIGH_WATER the peer is stalled,
and the core parks whatever would feed it more, whose reading this thread pauses until it drains
(the rule is in ``connection``). A protocol other than gear renders the core's replies first
(``frontend``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from gearmand_py.core.engine import Engine, RequestFailed, log_failure
from gearmand_py.core.model import HIGH_WATER
from gearmand_py.protocol.codec import Reply, Spread
from gearmand_py.server.batches import CALL, CLOSED, CONNECTED, DRAINED, JOURNALED, Batch
from gearmand_py.server.io_loop import MAX_READS_AHEAD
from gearmand_py.server.mailbox import Inbox
from gearmand_py.server.wouldblock import WOULD_BLOCK

if TYPE_CHECKING:
    from gearmand_py.core.model import Peer
    from gearmand_py.server.connection import Connection
    from gearmand_py.server.io_loop import IOLoop, OutputItem

log = logging.getLogger("gearmand_py.processor")

#: What the processing thread writes for a connection: one buffer, or pieces when it holds a
#: large field (see ``codec.Spread``).
Output = bytes | memoryview | list[bytes | memoryview]

_STOP: Final = object()
#: The longest a processing turn waits for a timer, in seconds.
MAX_WAIT: Final = 3600.0
#: Batches one turn runs before it flushes (a busy fg run at -t 4 averages about ten; running
#: only those waiting when the turn began cost about 10% of its jobs/s).
MAX_TURN_BATCHES: Final = 100


def _write(conn: Connection, data: Output) -> Output:
    """Send what the socket takes now; return the rest (nothing if the peer is gone: its I/O
    loop will see the hang-up and report CLOSED)."""
    if type(data) is list:
        return _write_pieces(conn, data)  # type: ignore[arg-type]
    try:
        sent = conn.sock.send(data)  # type: ignore[arg-type]
    except WOULD_BLOCK:
        return data
    except OSError as exc:
        log.debug("send on fd %d failed: %s", conn.fd, exc)
        return b""
    return memoryview(data)[sent:] if sent < len(data) else b""  # type: ignore[arg-type]


def _write_pieces(conn: Connection, pieces: list[bytes | memoryview]) -> Output:
    """``_write`` for output holding a large field: each piece in turn, while the socket takes
    them whole; the rest as a list."""
    for i, piece in enumerate(pieces):
        rest = _write(conn, piece)  # type: ignore[arg-type]
        if rest:
            return [rest, *pieces[i + 1:]]  # type: ignore[list-item]
    return b""


def _joined(out: list[Reply]) -> Output:
    """Take everything in ``out`` as one bytes object, or as a list of pieces when it holds a
    ``Spread``: its large field is not copied into the join."""
    data: Output
    if len(out) == 1:
        first = out[0]
        data = list(first) if isinstance(first, Spread) else first
    else:
        try:
            data = b"".join(out)  # type: ignore[arg-type]
        except TypeError:  # a Spread is not a buffer; rare, so it costs nothing until then
            data = _pieces(out)
    out.clear()
    return data


def _pieces(out: list[Reply]) -> list[bytes | memoryview]:
    """``out`` as few pieces as keep every large field out of a join."""
    pieces: list[bytes | memoryview] = []
    run: list[bytes] = []
    for item in out:
        if isinstance(item, Spread):
            run.append(item[0])
            pieces.append(b"".join(run))
            pieces.append(item[1])
            run = []
        else:
            run.append(item)
    if run:
        pieces.append(b"".join(run))
    return pieces


def _handoff(conn: Connection, data: Output, close: bool) -> list[OutputItem]:
    """The I/O loop's items for ``data``: one per piece, ``close`` on the last."""
    if not isinstance(data, list):
        return [(conn, data, close)]
    last = len(data) - 1
    return [(conn, piece, close and i == last) for i, piece in enumerate(data)]


def _over(conn: Connection) -> bool:
    """Whether ``conn``'s peer has more than HIGH_WATER unsent: handed to its I/O loop, plus
    what its protocol holds back. Asked when a peer may stall or be released, not per packet."""
    held = conn.renderer.held if conn.renderer is not None else 0
    return conn.handed + held > HIGH_WATER


def _size(data: Output) -> int:
    return sum(map(len, data)) if type(data) is list else len(data)  # type: ignore[arg-type]


class Processor:
    """Drives an ``Engine`` from batches of connection events."""

    def __init__(self, engine: Engine, after_turn: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.mailbox = Inbox()
        self.running = True
        #: Called after every turn, from the processing thread (shutdown checks live there).
        self.after_turn = after_turn
        engine.throttle = self._throttle

    def handle(self, batch: Batch) -> None:
        """Apply one batch from an I/O loop to the core."""
        engine = self.engine
        if engine.times_batches:
            engine.now = engine.clock()
        for kind, endpoint, payload in batch:
            if kind == JOURNALED:
                engine.journaled(*payload)
                continue
            if kind == CALL:
                payload()
                continue
            # Typed: the compiled build reads the connection's fields directly.
            conn: Connection = endpoint
            peer = conn.peer
            try:
                if kind == DRAINED:
                    conn.handed -= payload
                    if peer is not None and peer.stalled and not _over(conn):
                        engine.drained(peer)
                elif kind == CONNECTED:
                    conn.peer = engine.connect(conn, conn.fd, conn.ip)
                elif kind == CLOSED:
                    if peer is not None:
                        engine.disconnect(peer)
                        conn.peer = None  # no cycle left for the garbage collector
                    conn.sock.close()
                elif peer is not None:
                    conn.reads_done += 1
                    if conn.reading_ahead and conn.reads - conn.reads_done <= MAX_READS_AHEAD // 2:
                        conn.loop.recheck(conn)
                    engine.receive(peer, payload)
                    if peer.functions and peer.out:
                        self._write_now(peer)
            except RequestFailed as exc:  # a bug must cost one connection, never the server
                if peer is not None:  # it is: only receive raises RequestFailed
                    log_failure(peer, exc)
                if conn.peer is not None:
                    engine.close(conn.peer)

    @staticmethod
    def _throttle(peer: Peer, paused: bool) -> None:
        conn: Connection = peer.endpoint
        conn.loop.pause(conn, paused)

    def _handed(self, peer: Peer, conn: Connection, size: int) -> None:
        """Count ``size`` more bytes handed to the I/O loop; stall or release the peer."""
        conn.handed += size
        if conn.handed > HIGH_WATER:
            peer.stalled = True
        elif peer.stalled and not _over(conn):
            self.engine.drained(peer)

    def _write_now(self, worker: Peer) -> None:
        """Write a worker's replies as soon as its packets are handled, not with the rest of
        the turn: its next job is what keeps every job moving, and a worker gets one reply per
        request, so this costs no extra send. fg medians over three series of 6-12 alternating
        runs: +8-15% jobs/s at -t 4, +1-15% at -t 0. Writing clients this way too lost the gain
        at -t 0: a client also receives results relayed later in the turn, so it costs a send."""
        conn: Connection = worker.endpoint
        if conn.handed or worker.closing:
            return  # earlier output is still with the I/O loop: flush() keeps the order
        rest = _write(conn, _joined(worker.out))
        if rest:  # the socket is full: the I/O loop writes the rest, and all after it
            conn.loop.post_output(_handoff(conn, rest, False))
            self._handed(worker, conn, _size(rest))
        elif worker.stalled:
            self.engine.drained(worker)

    def tick(self) -> float | None:
        """Run due timers, flush, run the after-turn hook; return seconds until the next timer."""
        engine = self.engine
        timers = engine.timers
        if timers.heap:
            now = engine.now = engine.clock()  # what the timers do happens now
            timers.run_due(now)
        self.flush()
        self.after_turn()
        if not timers.heap:
            return None
        deadline = timers.next_deadline()
        if deadline is None:
            return None
        # epoll cannot wait longer than about 24 days; waking early is harmless.
        return min(max(deadline - engine.clock(), 0.0), MAX_WAIT)

    def flush(self) -> None:
        """Write the bytes the core produced to their sockets; hand what is left to the loops."""
        engine = self.engine
        if not engine.dirty:
            return
        handoffs: dict[IOLoop, list[OutputItem]] | None = None
        # Disconnecting a closed peer can requeue its jobs and wake other workers, so repeat
        # until the core has nothing more to say.
        while engine.dirty:
            for peer in engine.take_output():
                if not peer.out and not peer.closing:
                    continue  # a worker whose replies _write_now wrote already
                conn: Connection = peer.endpoint
                data = _joined(peer.out)
                close = peer.closing
                if conn.renderer is not None and data:
                    data, ends = self._rendered(peer, conn, data)
                    close = close or ends
                if close:
                    engine.disconnect(peer)
                    conn.peer = None
                elif not data:  # a peer that went away after its output was produced
                    continue
                elif not conn.handed:
                    data = _write(conn, data)
                    if not data:
                        if peer.stalled and not _over(conn):
                            engine.drained(peer)
                        continue
                if not close:
                    self._handed(peer, conn, _size(data))
                if handoffs is None:
                    handoffs = {}
                items = handoffs.get(conn.loop)
                if items is None:
                    items = handoffs[conn.loop] = []
                if isinstance(data, list):
                    items += _handoff(conn, data, close)
                else:
                    items.append((conn, data, close))
        if handoffs is not None:
            for loop, items in handoffs.items():
                loop.post_output(items)

    def _rendered(self, peer: Peer, conn: Connection, data: Output) -> tuple[bytes, bool]:
        """What ``conn``'s protocol makes of the core's replies, and whether the connection
        closes after it. What the protocol holds back counts like output handed to the loop:
        past HIGH_WATER the peer is stalled, so whatever feeds it waits (an HTTP response
        behind one whose job does not end would otherwise keep every later result)."""
        renderer = conn.renderer
        rendered = renderer.render(data if type(data) is bytes  # type: ignore[union-attr]
                                   else b"".join(data))  # type: ignore[arg-type]
        if _over(conn):
            peer.stalled = True
        elif peer.stalled:
            self.engine.drained(peer)
        return rendered

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
