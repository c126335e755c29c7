"""The queue-writer thread: persistent-queue I/O off the processing thread, with group commit.

The processing thread journals each new background job and each finished one; this thread takes
everything waiting at that moment, writes all new rows in one transaction, and reports the
commit (or its error) back in one JOURNALED batch, which is when the jobs' clients get their
JOB_CREATED. A row the database refuses fails alone (the backend stores the others), and that
batch then holds one JOURNALED item per outcome. While one transaction runs, the next batch
builds up, so throughput grows with load instead of paying one commit per job. Deletions are
batched the same way; when the database is unreachable they are kept and retried (a finished job
whose row could not be deleted yet would run again after a restart, never be lost).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gearmand_py.core.engine import JOURNAL_ADD
from gearmand_py.core.model import Job
from gearmand_py.server import fatal
from gearmand_py.server.batches import JOURNALED, Batch
from gearmand_py.server.mailbox import Inbox
from queue_backends.base import QueueBackend, QueueError

log = logging.getLogger("gearmand_py.queue")

#: Seconds between attempts to delete rows while the database is failing.
RETRY_INTERVAL = 1.0

#: Put in the mailbox by ``stop``: write what is pending, then end.
STOP = object()


@dataclass
class StoreHealth:
    """What the writer knows of the store, for the monitor. Written by the writer thread only;
    readers take each field as it is at that moment."""

    reachable: bool = True
    #: Why the store was last found unreachable (kept once it is back, for the status page).
    last_error: str = ""
    commits: int = 0
    commit_seconds: float = 0.0
    #: Rows written by those commits.
    rows: int = 0
    #: Operations that failed because the store was unavailable (adds and deletes).
    errors: int = 0
    #: Rows the store refused one by one (the store itself was reachable).
    refused: int = 0


class QueueWriter:
    """Owns the backend while the server runs."""

    def __init__(self, backend: QueueBackend, deliver: Callable[[Batch], None],
                 on_fatal: Callable[[], None], probe_every: float | None = None) -> None:
        """``probe_every``: while no job touches the store, ask it whether it is reachable that
        often (the monitor's ``/healthz``); None: never."""
        self.backend = backend
        self.health = StoreHealth()
        self.probe_every = probe_every
        #: When the store last answered anything (monotonic seconds).
        self._contact = 0.0
        #: Where JOURNALED batches go: the processing thread's mailbox (or the single loop's).
        self.deliver = deliver
        self.mailbox = Inbox()
        self._undeleted: list[int] = []
        self._thread = fatal.thread(self._run, "queue-writer", on_fatal)

    def put(self, operation: tuple) -> None:
        """Journal an operation (from the processing thread)."""
        self.mailbox.put(operation)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending, then stop the thread."""
        self.mailbox.put(STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        mailbox = self.mailbox
        items = mailbox.items
        running = True
        wait = self.probe_every
        while running:
            if self._undeleted:
                wait = RETRY_INTERVAL if wait is None else min(wait, RETRY_INTERVAL)
            mailbox.wait(wait)
            if not items and self.probe_every is not None:
                self._probe()
            adds, deletes = [], []
            while items:
                operation = items.popleft()
                if operation is STOP:
                    running = False
                elif operation[0] == JOURNAL_ADD:
                    adds.append(operation)
                else:
                    deletes.append(operation[1])
            if adds:
                self._commit(adds)
            if deletes or self._undeleted:
                self._delete(deletes)

    def _probe(self) -> None:
        now = time.monotonic()
        if now - self._contact < self.probe_every:  # type: ignore[operator]
            return  # woken early, or the store answered a job meanwhile
        self._contact = now
        try:
            self.backend.ping()
        except QueueError as exc:
            self._unreachable(str(exc))
        else:
            self.health.reachable = True

    def _unreachable(self, error: str) -> None:
        health = self.health
        health.reachable = False
        health.last_error = error
        health.errors += 1

    def _commit(self, adds: list[tuple]) -> None:
        rows = [add[2] for add in adds]
        refused, error = self._stored(lambda: self.backend.add(rows), len(adds))
        self._journaled(adds, refused, error)

    def _stored(self, add: Callable[[], Mapping[int, str]],
                count: int) -> tuple[Mapping[int, str], str | None]:
        """Run ``add`` (a backend's add of ``count`` rows) and keep the store's health: the
        rows it refused, or the error that stored none."""
        health = self.health
        started = time.monotonic()
        try:
            refused = add()
        except QueueError as exc:
            self._unreachable(str(exc))
            return {}, str(exc)
        except Exception as exc:  # a backend bug must fail these submits, not the thread
            log.exception("persistent queue add failed")
            error = f"{type(exc).__name__}: {exc}"
            self._unreachable(error)
            return {}, error
        health.reachable = True
        self._contact = time.monotonic()
        health.commits += 1
        health.commit_seconds += time.monotonic() - started
        health.rows += count - len(refused)
        health.refused += len(refused)
        return refused, None

    def _journaled(self, adds: list[tuple], refused: Mapping[int, str],
                   error: str | None) -> None:
        """Tell the processing thread how these adds ended: one JOURNALED item per outcome."""
        if not refused:  # the common case: one outcome for the whole batch
            self.deliver([(JOURNALED, None, ([add[1] for add in adds], error))])
            return
        outcomes: dict[str | None, list[Job]] = {}  # error (None: stored) -> its jobs
        for add in adds:
            outcomes.setdefault(refused.get(add[2].id), []).append(add[1])
        self.deliver([(JOURNALED, None, (jobs, reason)) for reason, jobs in outcomes.items()])

    def _delete(self, ids: list[int]) -> None:
        pending = self._undeleted + ids
        try:
            self.backend.done(pending)
        except Exception as exc:  # keep them and retry; the database may be restarting
            self._unreachable(str(exc))
            if not self._undeleted:
                log.error("persistent queue: deleting finished jobs failed, will retry: %s", exc)
            self._undeleted = pending
        else:
            self.health.reachable = True
            if self._undeleted:
                log.warning("persistent queue: deleting finished jobs works again")
            self._undeleted = []
