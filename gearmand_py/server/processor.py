"""The processing thread: runs batches through the core and sends each I/O loop its output.

It alone touches the ``Engine``. One turn takes every batch waiting in its mailbox, runs them, then
posts one output batch per I/O loop, so a busy server pays one hand-off per turn, not per packet.
"""

from __future__ import annotations

import logging
import selectors
from collections.abc import Callable
from typing import TYPE_CHECKING

from gearmand_py.core.engine import Engine
from gearmand_py.server.batches import CLOSED, CONNECTED, JOURNALED, Batch
from gearmand_py.server.mailbox import Mailbox

if TYPE_CHECKING:
    from gearmand_py.server.connection import Connection
    from gearmand_py.server.io_loop import IOLoop

log = logging.getLogger("gearmand_py.processor")

_STOP = object()
#: The longest a processing turn waits for a timer, in seconds.
MAX_WAIT = 3600.0


class Processor:
    """Drives an ``Engine`` from batches of connection events."""

    def __init__(self, engine: Engine, after_turn: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.mailbox = Mailbox()
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
            peer = conn.peer
            try:
                if kind == CONNECTED:
                    conn.peer = engine.connect(conn, conn.fd, conn.ip)
                elif peer is None:
                    continue
                elif kind == CLOSED:
                    engine.disconnect(peer)
                else:
                    engine.receive(peer, payload)
            except Exception:  # a bug must cost one connection, never the server
                log.exception("internal error on connection %d (%s); closing it", conn.fd, conn.ip)
                if conn.peer is not None:
                    engine.close(conn.peer)

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
        """Send every I/O loop the bytes the core produced for its connections."""
        engine = self.engine
        per_loop: dict[IOLoop, list[tuple[Connection, bytes, bool]]] = {}
        # Disconnecting a closed peer can requeue its jobs and wake other workers, so repeat
        # until the core has nothing more to say.
        dirty = engine.take_output()
        while dirty:
            for peer in dirty:
                conn = peer.endpoint
                data = b"".join(peer.out) if len(peer.out) != 1 else peer.out[0]
                peer.out.clear()
                close = peer.closing
                if close:
                    engine.disconnect(peer)
                items = per_loop.get(conn.loop)
                if items is None:
                    items = per_loop[conn.loop] = []
                items.append((conn, data, close))
            dirty = engine.take_output()
        for loop, items in per_loop.items():
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
        """The processing thread's loop: wait for batches, run them, flush."""
        mailbox = self.mailbox
        items = mailbox.items
        with selectors.DefaultSelector() as selector:
            selector.register(mailbox, selectors.EVENT_READ)
            timeout = None
            while self.running:
                mailbox.sleeping = True
                if not items:
                    selector.select(timeout)
                    mailbox.drain()
                mailbox.sleeping = False
                while items:
                    batch = items.popleft()
                    if batch is _STOP:
                        self.running = False
                        break
                    self.handle(batch)
                timeout = self.tick()
        mailbox.close()
