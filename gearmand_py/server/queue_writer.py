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
from collections.abc import Callable, Mapping

from gearmand_py.core.engine import JOURNAL_ADD
from gearmand_py.core.model import Job
from gearmand_py.server import fatal
from gearmand_py.server.batches import JOURNALED, Batch
from gearmand_py.server.mailbox import Inbox
from queue_backends.base import QueueBackend, QueueError

log = logging.getLogger("gearmand_py.queue")

#: Seconds between attempts to delete rows while the database is failing.
RETRY_INTERVAL = 1.0

_STOP = object()


class QueueWriter:
    """Owns the backend while the server runs."""

    def __init__(self, backend: QueueBackend, deliver: Callable[[Batch], None],
                 on_fatal: Callable[[], None]) -> None:
        self.backend = backend
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
        self.mailbox.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        mailbox = self.mailbox
        items = mailbox.items
        running = True
        while running:
            mailbox.wait(RETRY_INTERVAL if self._undeleted else None)
            adds, deletes = [], []
            while items:
                operation = items.popleft()
                if operation is _STOP:
                    running = False
                elif operation[0] == JOURNAL_ADD:
                    adds.append(operation)
                else:
                    deletes.append(operation[1])
            if adds:
                self._commit(adds)
            if deletes or self._undeleted:
                self._delete(deletes)

    def _commit(self, adds: list[tuple]) -> None:
        error = None
        refused: Mapping[int, str] = {}
        try:
            refused = self.backend.add([row for _op, _job, row in adds])
        except QueueError as exc:
            error = str(exc)
        except Exception as exc:  # a backend bug must fail these submits, not the thread
            log.exception("persistent queue add failed")
            error = f"{type(exc).__name__}: {exc}"
        if not refused:  # the common case: one outcome for the whole batch
            self.deliver([(JOURNALED, None, ([job for _op, job, _row in adds], error))])
            return
        outcomes: dict[str | None, list[Job]] = {}  # error (None: stored) -> its jobs
        for _op, job, row in adds:
            outcomes.setdefault(refused.get(row.id), []).append(job)
        self.deliver([(JOURNALED, None, (jobs, reason)) for reason, jobs in outcomes.items()])

    def _delete(self, ids: list[int]) -> None:
        pending = self._undeleted + ids
        try:
            self.backend.done(pending)
        except Exception as exc:  # keep them and retry; the database may be restarting
            if not self._undeleted:
                log.error("persistent queue: deleting finished jobs failed, will retry: %s", exc)
            self._undeleted = pending
        else:
            if self._undeleted:
                log.warning("persistent queue: deleting finished jobs works again")
            self._undeleted = []
