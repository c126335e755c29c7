"""What the monitor counts: jobs submitted, ended (and why), how long they waited and ran.

``CountingEngine`` is the ``Engine`` with the counting added around the handlers it overrides;
the server uses it only with ``--monitor-port``, so a server without the monitor runs the plain
engine and pays nothing per job. Like the engine it is touched by the processing thread only;
the monitor's threads see ``snapshot``s built there.

Every job that leaves the tables is counted once, in ``_forget``, with one reason: ``completed``,
``fail`` (WORK_FAIL), ``exception`` (WORK_EXCEPTION), ``timeout`` (CAN_DO_TIMEOUT), ``retries``
(``-j``), ``cancelled`` (admin ``cancel job``, whatever its worker sends afterwards),
``abandoned`` (a foreground job dropped because every client left), ``queue_error`` (its row
could not be stored) or ``handed_over`` (with --shared-queue: left to the shared store for any
server to run). So ``submitted == completed + failed + handed over + jobs in the tables``, a
job this server claimed from the store counting as submitted here.

The times recorded (queued, taken, ended, a connection's last grab) are those of the batch of
events that did it (``Engine.now``, which the processor reads once per batch and before due
timers), not of each event: one clock read serves every job in the batch. A wait or run is
thus off by at most the time a batch takes to run; a job submitted and taken in one batch
waited 0 s. Jobs replayed at start-up are queued as of the engine's creation.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
from typing import Any, TypeVar

from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.core.model import PRIORITIES, Job, Peer

#: Histogram bucket bounds in seconds (the last bucket is +Inf).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
           1800.0, 3600.0)
#: Most jobs of a server that keeps up wait and run less than this: a comparison with it spares
#: them the bisect, which costs more than the rest of an observation.
FIRST_BOUND = BUCKETS[0]
COMPLETED = "completed"
FAIL, EXCEPTION, TIMEOUT, RETRIES = "fail", "exception", "timeout", "retries"
CANCELLED, ABANDONED, QUEUE_ERROR = "cancelled", "abandoned", "queue_error"
#: Left here to a shared queue for any server to run (not a failure).
HANDED_OVER = "handed_over"
#: Every reason a job can end with, ``completed`` first.
REASONS = (COMPLETED, FAIL, EXCEPTION, TIMEOUT, RETRIES, CANCELLED, ABANDONED, QUEUE_ERROR,
           HANDED_OVER)


class Histogram:
    """Counts per bucket (not cumulative) and the sum of what was observed."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0


class FunctionStats:
    """One function's counters. Each of its jobs holds them, so counting a job's events finds
    them without building and hashing a key per event."""

    __slots__ = ("foreground", "background", "ended", "wait", "run")

    def __init__(self) -> None:
        #: Jobs submitted (replayed ones included) per priority.
        self.foreground = [0] * len(PRIORITIES)
        self.background = [0] * len(PRIORITIES)
        #: Reason -> jobs that ended so.
        self.ended = dict.fromkeys(REASONS, 0)
        self.wait = Histogram()
        self.run = Histogram()


class Stats:
    """The counters, by function name: a function the engine drops and makes again (an idle
    one swept out) keeps counting where it left off."""

    def __init__(self) -> None:
        self.functions: dict[bytes, FunctionStats] = {}
        self.connections_total = 0

    def submitted(self) -> list[tuple[tuple[bytes, int, bool], int]]:
        """((function, priority, background), jobs) for each kind of job submitted."""
        return [((name, priority, background), count)
                for name, stats in self.functions.items()
                for background, counts in ((False, stats.foreground), (True, stats.background))
                for priority, count in enumerate(counts) if count]

    def ended(self) -> list[tuple[tuple[bytes, str], int]]:
        """((function, reason), jobs) for each way jobs ended."""
        return [((name, reason), count) for name, stats in self.functions.items()
                for reason, count in stats.ended.items() if count]

    def histograms(self, which: str) -> list[tuple[bytes, list[int], float]]:
        """(function, counts, sum) of the ``wait`` or ``run`` histogram of each function
        that observed any."""
        rows = []
        for name, stats in self.functions.items():
            histogram: Histogram = getattr(stats, which)
            if any(histogram.counts):
                rows.append((name, list(histogram.counts), histogram.total))
        return rows


_Handler = TypeVar("_Handler", bound=Callable[..., None])


def _ending_as(reason: str, handler: _Handler) -> _Handler:
    """``handler`` (an ``Engine`` method) with ``reason`` as the end of the jobs it forgets."""

    def ending(self: CountingEngine, *args: Any) -> None:
        self._ending = reason
        try:
            handler(self, *args)
        finally:
            self._ending = None

    return ending  # type: ignore[return-value]


class TimedJob(Job):
    """A job with the times the monitor shows and measures (``Job`` stays small without it)."""

    __slots__ = ("stats", "queued_at", "assigned_at")

    stats: FunctionStats
    #: Since when it waits for a worker (its due time, for an epoch job).
    queued_at: float
    #: When its worker took it; None while no worker holds it.
    assigned_at: float | None


class WatchedPeer(Peer):
    """A connection with what the status page shows of it."""

    __slots__ = ("connected_at", "active_at", "jobs_taken")

    connected_at: float
    #: When it last grabbed: what a worker does between grabs is its job.
    active_at: float
    #: Jobs it took (those it no longer holds are done: a worker that lets go of a job does so
    #: by leaving).
    jobs_taken: int


class CountingEngine(Engine):
    """The engine, counting what ``Stats`` holds, and remembering when each job was queued and
    assigned and what each worker did, for the status page."""

    times_batches = True

    def __init__(self, options: EngineOptions,
                 admin: Callable[[Engine, Peer, tuple[bytes, ...]], bytes] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(options, admin, clock)
        self.job_class = TimedJob
        self.peer_class = WatchedPeer
        self.stats = Stats()
        #: Why the job being forgotten now ends, while a handler that ends one runs.
        self._ending: str | None = None

    # -- connections ---------------------------------------------------------------------------
    # The overrides call ``Engine.method(self, ...)`` rather than ``super()``, which builds an
    # object per call: they run several times per job.

    def connect(self, endpoint: Any, fd: int, ip: str) -> WatchedPeer:
        peer: WatchedPeer = Engine.connect(self, endpoint, fd, ip)  # type: ignore[assignment]
        peer.connected_at = peer.active_at = self.now
        peer.jobs_taken = 0
        self.stats.connections_total += 1
        return peer

    # -- jobs ----------------------------------------------------------------------------------

    def submit(self, peer: Peer | None, name: bytes, unique: bytes, data: bytes, priority: int,
               background: bool, reducer: bytes = b"", when: int = 0) -> Job | None:
        jobs = self.jobs
        known = len(jobs)
        job = Engine.submit(self, peer, name, unique, data, priority, background, reducer, when)
        if job is not None and len(jobs) > known:  # a new job, not one it coalesced onto
            now = self.now
            job.queued_at = when if when > now else now  # type: ignore[attr-defined]
            job.assigned_at = None  # type: ignore[attr-defined]
            functions = self.stats.functions
            stats = functions.get(name)
            if stats is None:  # the function's first job
                stats = functions[name] = FunctionStats()
            job.stats = stats  # type: ignore[attr-defined]
            (stats.background if background else stats.foreground)[priority] += 1
        return job

    def _grab(self, peer: WatchedPeer) -> TimedJob | None:  # type: ignore[override]
        job: TimedJob | None = Engine._grab(self, peer)  # type: ignore[assignment]
        now = peer.active_at = self.now
        if job is not None:
            peer.jobs_taken += 1
            waited = now - job.queued_at
            histogram = job.stats.wait
            histogram.counts[0 if waited <= FIRST_BOUND else bisect_left(BUCKETS, waited)] += 1
            histogram.total += waited
            job.assigned_at = now
        return job

    def _requeue(self, job: TimedJob) -> None:  # type: ignore[override]
        job.assigned_at = None
        job.queued_at = self.now
        self._ending = RETRIES
        try:
            Engine._requeue(self, job)
        finally:
            self._ending = None

    # Handlers that end a job for a reason of their own: ``_forget`` reads it while they run.
    journaled = _ending_as(QUEUE_ERROR, Engine.journaled)
    _work_fail = _ending_as(FAIL, Engine._work_fail)
    _work_exception = _ending_as(EXCEPTION, Engine._work_exception)
    _worker_timeout = _ending_as(TIMEOUT, Engine._worker_timeout)
    hand_over = _ending_as(HANDED_OVER, Engine.hand_over)
    give_back = _ending_as(HANDED_OVER, Engine.give_back)

    def _forget(self, job: TimedJob) -> None:  # type: ignore[override]
        Engine._forget(self, job)
        assigned = job.assigned_at
        if job.cancelled:
            reason = CANCELLED
        elif self._ending is not None:
            reason = self._ending
        else:
            # A job a worker held ends so only by WORK_COMPLETE (every other end sets
            # ``_ending``); one no worker held, because a worker found it abandoned.
            reason = COMPLETED if assigned is not None else ABANDONED
        stats = job.stats
        if assigned is not None:
            ran = self.now - assigned
            histogram = stats.run
            histogram.counts[0 if ran <= FIRST_BOUND else bisect_left(BUCKETS, ran)] += 1
            histogram.total += ran
        stats.ended[reason] += 1
