"""The shared queue's thread (``--shared-queue``): the queue writer's group commit, plus claiming,
heartbeats and wake-ups, all on one database connection pool and off the processing thread.

What it does, each time it wakes:
- commits new jobs (one transaction for all waiting); the ones this server keeps are queued
  here (JOURNALED), the others are dropped here once stored (``Engine.hand_over``), as are the
  ones that coalesced onto a job already in the table;
- counts attempts (JOURNAL_START), deletes finished rows, gives rows back (JOURNAL_RELEASE) and
  claims, all in one transaction;
- answers GET_STATUS and ``cancel job`` for jobs this server does not hold (JOURNAL_ASK);
- claims rows for what the processing thread wants (JOURNAL_DEMAND) when that grows, when
  another server says rows became claimable (PostgreSQL NOTIFY, heard by a small listening
  thread), and every POLL_EVERY seconds while something is wanted (MySQL has no notifications;
  epoch jobs fall due without one); the claimed rows go to ``Engine.take_over``;
- every lease / BEATS_PER_LEASE seconds, a heartbeat (which also gives back the rows of servers
  whose lease ran out).
When it stops, it gives back every row this server still holds and leaves the peers table.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gearmand_py.core.engine import (
    JOURNAL_ADD,
    JOURNAL_ASK,
    JOURNAL_DEMAND,
    JOURNAL_DONE,
    JOURNAL_RELEASE,
    JOURNAL_START,
)
from gearmand_py.server import fatal
from gearmand_py.server.batches import CALL, Batch
from gearmand_py.server.queue_writer import RETRY_INTERVAL, STOP, QueueWriter
from queue_backends.base import QueueError
from queue_backends.shared import BEATS_PER_LEASE, Claimed, Entry, SharedStore

log = logging.getLogger("gearmand_py.queue")

#: Seconds between looks for claimable rows while this server wants some.
POLL_EVERY = {"postgresql": 1.0, "mysql": 0.25, "mariadb": 0.25}
#: Put in the mailbox by the listening thread when a notification came.
_NOTIFIED = ("notified",)


@dataclass
class _Pending:
    """What the next write holds: attempts to count, rows to delete or give back, and the calls
    for the processing thread once they are written (the workers of those jobs get their next
    job then)."""

    started: list[int] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)


class SharedQueue(QueueWriter):
    """Owns the shared store while the server runs."""

    backend: SharedStore

    def __init__(self, store: SharedStore, deliver: Callable[[Batch], None],
                 on_fatal: Callable[[], None],
                 hand_over: Callable[[list[tuple[Any, bytes]]], None],
                 take_over: Callable[[int, list[Claimed]], None],
                 probe_every: float | None = None) -> None:
        """``hand_over`` and ``take_over`` run on the processing thread (as CALLs)."""
        super().__init__(store, deliver, on_fatal, probe_every)
        self.hand_over = hand_over
        self.take_over = take_over
        #: function -> jobs the processing thread wants, as last told.
        self.demand: dict[bytes, int] = {}
        #: Claimed batches the processing thread has not taken over yet: (number, per function).
        self._in_flight: list[tuple[int, Counter[bytes]]] = []
        self._claims = 0
        #: False once a graceful stop began: what is wanted is no longer claimed.
        self.claiming = True
        self._poll_every = POLL_EVERY[store.engine.dialect.name]
        self._beat_every = store.lease / BEATS_PER_LEASE
        self._stopping = threading.Event()
        self._listener = fatal.thread(self._listen, "shared-queue-listener", on_fatal)
        self._failing = ""
        self._pending = _Pending()
        #: What the processing thread may ask the store about a job, by row id.
        self._questions = {"status": store.status, "cancel": store.cancel}

    def start(self) -> None:
        super().start()
        if self.backend.notifies:
            self._listener.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        super().stop(timeout)

    # -- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        items = self.mailbox.items
        running = True
        next_beat = time.monotonic() + self._beat_every
        next_poll = 0.0
        while running:
            now = time.monotonic()
            wait = next_beat - now
            if self._wanted():
                wait = min(wait, next_poll - now)
            if self._pending.done or self._pending.released:  # not written yet: the store failed
                wait = min(wait, RETRY_INTERVAL)
            self.mailbox.wait(max(wait, 0.0))
            adds, asks = [], []
            pending = self._pending
            claim = False
            while items:
                operation = items.popleft()
                if operation is STOP:
                    running = False
                    continue
                if operation is _NOTIFIED:
                    claim = True
                    continue
                kind = operation[0]
                if kind == JOURNAL_ADD:
                    adds.append(operation)
                elif kind == JOURNAL_DONE:
                    pending.done.append(operation[1])
                    if len(operation) > 2:
                        pending.after.append(operation[2])
                elif kind == JOURNAL_START:
                    pending.started.append(operation[1])
                elif kind == JOURNAL_RELEASE:
                    pending.released += operation[1]
                elif kind == JOURNAL_DEMAND:
                    claim = self._told(operation[1], operation[2]) or claim
                elif kind == JOURNAL_ASK:
                    asks.append(operation)
            if adds:
                self._commit(adds)
            for _kind, (question, row), answer in asks:
                result = self._call(f"asking for a job's {question}", self._questions[question],
                                    row)
                self.deliver([(CALL, None, partial(answer, result))])
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + self._beat_every
                beat = self._call("heartbeat", self.backend.heartbeat)
                claim = claim or (beat is not None and beat[1] > 0)
            if now >= next_poll:
                claim = True
            wanted = self._wanted() if running and claim else {}
            if wanted:
                next_poll = now + self._poll_every
            if wanted or pending.started or pending.done or pending.released:
                self._apply(wanted)
        self._call("leaving", self.backend.leave)

    def _apply(self, wanted: dict[bytes, int]) -> None:
        """Write what is pending and claim what is wanted, in one transaction; on failure the
        writes wait for the next turn."""
        pending = self._pending
        claimed = self._call("writing", self.backend.apply, pending.started, pending.done,
                             pending.released, wanted)
        if claimed is None:
            return
        self._pending = _Pending()
        if pending.after:
            self.deliver([(CALL, None, call) for call in pending.after])
        if claimed:
            self._claims += 1
            self._in_flight.append((self._claims, Counter(c.row.function for c in claimed)))
            self.deliver([(CALL, None, partial(self.take_over, self._claims, claimed))])

    def _call(self, what: str, method: Callable[..., Any], *args: Any) -> Any:
        """A store call whose failure is logged once per outage and retried by the next turn
        (the database may be restarting); None when it failed."""
        try:
            result = method(*args)
        except QueueError as exc:
            self._unreachable(str(exc))
            if not self._failing:
                log.error("shared queue: %s failed: %s", what, exc)
            self._failing = what
            return None
        self.health.reachable = True
        if self._failing:
            log.warning("shared queue: the database answers again")
            self._failing = ""
        return result

    # -- new jobs ------------------------------------------------------------------------------

    def _commit(self, adds: list[tuple]) -> None:
        """Store the new jobs; those kept here are queued (JOURNALED), the others handed over."""
        entries = [Entry(row, job.handle, keep) for _op, job, row, keep in adds]
        added = []

        def add() -> Any:
            added.append(self.backend.add_shared(entries))
            return added[0].refused

        refused, error = self._stored(add, len(adds))
        coalesced = added[0].coalesced if added else {}
        journaled = [a for a in adds
                     if error or a[2].id in refused or (a[3] and a[2].id not in coalesced)]
        if journaled:
            self._journaled(journaled, refused, error)
        gone = [(job, coalesced.get(row.id) or job.handle) for _op, job, row, keep in adds
                if not error and row.id not in refused and (not keep or row.id in coalesced)]
        if gone:
            self.deliver([(CALL, None, partial(self.hand_over, gone))])

    # -- claiming ------------------------------------------------------------------------------

    def _told(self, applied: int, changes: dict[bytes, int]) -> bool:
        """What the processing thread wants changed (it has taken over every claimed batch up
        to ``applied``); True when it wants more of something."""
        self._in_flight = [entry for entry in self._in_flight if entry[0] > applied]
        more = False
        for function, wanted in changes.items():
            more = more or wanted > self.demand.get(function, 0)
            if wanted:
                self.demand[function] = wanted
            else:
                self.demand.pop(function, None)
        return more

    def _wanted(self) -> dict[bytes, int]:
        """What is wanted and not claimed yet."""
        if not self.claiming or not self.demand:
            return {}
        on_the_way: Counter[bytes] = Counter()
        for _number, counts in self._in_flight:
            on_the_way.update(counts)
        return {function: wanted - on_the_way[function]
                for function, wanted in self.demand.items()
                if wanted > on_the_way[function]}

    # -- notifications (PostgreSQL) ------------------------------------------------------------

    def _listen(self) -> None:
        """Wait for NOTIFYs on a connection of its own and wake the loop; reconnect when the
        database goes away."""
        conn = None
        while not self._stopping.is_set():
            try:
                if conn is None:
                    conn = self.backend.listen()
                    self.mailbox.put(_NOTIFIED)  # rows may have come while not listening
                if select.select([conn], [], [], 1.0)[0]:
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self.mailbox.put(_NOTIFIED)
            except Exception as exc:  # QueueError, OSError and psycopg2's own errors
                log.debug("shared queue: listening failed: %s", exc)
                conn = _closed(conn)
                self._stopping.wait(1.0)
        _closed(conn)


def _closed(conn: Any) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:  # already broken
            pass
