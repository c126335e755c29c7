"""The processing thread's side of a shared queue (``--shared-queue``): which new background jobs
this server keeps, and how many jobs of each function it wants from the store.

A server holds only the jobs its workers will take soon: at most ``PER_WORKER`` queued jobs per
worker of a function. A new background job beyond that, or one due later, is stored for any
server to claim and dropped here once its row is committed (``Engine.hand_over``). The shared
queue's thread (``server.shared_queue``) claims rows for what ``demand`` says is missing and hands
them over with ``Engine.take_over``.

It adds to each JOURNAL_ADD whether this server keeps the job, journals JOURNAL_START when a
worker takes a stored job (an attempt, counted in its row) and JOURNAL_DEMAND when what this
server wants changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gearmand_py.core.engine import JOURNAL_ADD, JOURNAL_DEMAND, JOURNAL_START
from gearmand_py.core.model import Function, Job
from queue_backends.shared import MEMBER_SHIFT

if TYPE_CHECKING:
    from gearmand_py.core.engine import Engine

#: Queued jobs held per worker of a function: enough that a worker finds its next job here,
#: few enough that idle workers of other servers are not starved.
PER_WORKER = 4


def queued(function: Function) -> int:
    return sum(map(len, function.queues))


class Sharing:
    """Wraps the engine's journal; only the processing thread calls it."""

    def __init__(self, engine: Engine, put: Callable[[tuple[Any, ...]], None]) -> None:
        self.engine = engine
        self.put = put
        #: Functions whose workers or queue changed since demand was last told.
        self.touched: set[Function] = set()
        #: What was last told for each function (0 once nothing is wanted).
        self.told: dict[bytes, int] = {}
        #: The last batch of claimed rows taken over: the store's thread counts claims after it
        #: as still on their way.
        self.applied = 0
        self._applied_told = 0

    def journal(self, operation: tuple[Any, ...]) -> None:
        """``Engine.journal``: a new job says whether this server keeps it."""
        if operation[0] == JOURNAL_ADD:
            job: Job = operation[1]
            operation = (*operation, self.keeps(job))
        self.put(operation)

    def keeps(self, job: Job) -> bool:
        """Whether a new background job stays here: due now, and a worker here will take it
        soon."""
        function = job.function
        if job.when and job.when > self.engine.clock():
            return False
        return queued(function) < PER_WORKER * function.worker_count

    def started(self, job: Job) -> None:
        """A worker took a stored job: count the attempt in its row."""
        self.put((JOURNAL_START, job.queue_id))
        self.touched.add(job.function)

    def row_id(self, handle: bytes) -> int | None:
        """The row id a shared queue's handle (``PREFIX/MEMBER:N``, from any server) names, or
        None for any other handle."""
        head, _, number = handle.rpartition(b":")
        member = head.rpartition(b"/")[2]
        if not (number.isdigit() and member.isdigit()) or len(number) > 13:
            return None
        row = (int(member) << MEMBER_SHIFT) + int(number)
        return row if int(number) < 1 << MEMBER_SHIFT and row < 1 << 63 else None

    def touch(self, function: Function) -> None:
        self.touched.add(function)

    def after_turn(self) -> None:
        """Tell the store's thread what changed in what this server wants. A function wants a
        refill once its queue here is half empty, so claims come in batches."""
        if not self.touched and self.applied == self._applied_told:
            return
        changes = {}
        for function in self.touched:
            capacity = PER_WORKER * function.worker_count
            waiting = queued(function)
            wanted = capacity - waiting if waiting <= capacity // 2 else 0
            limits = [limit for limit in function.max_queue if limit]
            if limits:  # a maxqueue here would refuse what it claims beyond that
                wanted = max(min(wanted, min(limits) - function.job_total), 0)
            if self.told.get(function.name, 0) != wanted:
                changes[function.name] = wanted
                if wanted:
                    self.told[function.name] = wanted
                else:
                    self.told.pop(function.name, None)
        self.touched.clear()
        if changes or self.applied != self._applied_told:
            # Also when only ``applied`` moved: until the thread hears it, it counts those
            # claims as still on their way and would not claim for them again.
            self._applied_told = self.applied
            self.put((JOURNAL_DEMAND, self.applied, changes))
