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

It also notes which functions' rows changed (``FunctionStats.changed``, and the names the
table forgot), so that a scrape of a server with many functions copies only those
(``snapshot.take_all``): every change to a function's gauges or counters passes through a method
overridden here, or through ``CountedFunction``'s worker list. A flag costs the job path an
attribute store where a set of changed functions cost a method call per event; finding the
flagged ones is a pass over the functions at each scrape.

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
from typing import Any, Final

from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.core.model import (
    CANCELLED,
    COMPLETED,
    PRIORITIES,
    REASONS,
    Ability,
    Function,
    Job,
    Peer,
    TimedJob,
)

#: Most jobs of a server that keeps up wait and run less than this, the first bucket's bound: a
#: comparison with it spares them the bisect, which costs more than the rest of an observation.
FIRST_BOUND: Final = 0.005
#: Histogram bucket bounds in seconds (the last bucket is +Inf).
BUCKETS: Final = (FIRST_BOUND, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                  300.0, 1800.0, 3600.0)
#: Forgotten function names kept for the monitor's next copy; past it, that copy is complete.
MAX_FORGOTTEN: Final = 10_000


class Histogram:
    """Counts per bucket (not cumulative) and the sum of what was observed."""

    __slots__ = ("first", "counts", "total")

    def __init__(self) -> None:
        #: The first bucket's count, in a slot of its own: most observations of a server that
        #: keeps up fall there, and a slot costs less to count in than a list item.
        self.first = 0
        #: The other buckets' counts, by bucket (the first item is unused).
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0

    def buckets(self) -> list[int]:
        """The count of each bucket."""
        return [self.first, *self.counts[1:]]


class FunctionStats:
    """One function's counters. Its ``CountedFunction`` holds them, so counting a job's events
    finds them without building and hashing a key per event."""

    __slots__ = ("foreground", "background", "ended", "held_failures", "wait", "run", "changed")

    def __init__(self) -> None:
        #: Jobs submitted (replayed ones included) per priority.
        self.foreground = [0] * len(PRIORITIES)
        self.background = [0] * len(PRIORITIES)
        #: Reason -> jobs that ended so, for every reason but ``completed``: a job a worker held
        #: is observed in ``run`` as it ends, so the completed ones are those observations but
        #: the ``held_failures`` (the ends of held jobs for any other reason), and the common
        #: end costs no counter of its own.
        self.ended: dict[str, int] = dict.fromkeys(REASONS[1:], 0)
        self.held_failures = 0
        self.wait = Histogram()
        self.run = Histogram()
        #: The function's gauges or these counters changed since the monitor last copied them.
        self.changed = True

    def completed(self) -> int:
        """Jobs that ended with WORK_COMPLETE."""
        run = self.run
        return run.first + sum(run.counts) - self.held_failures


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
                for reason, count in ((COMPLETED, stats.completed()), *stats.ended.items())
                if count]

    def histograms(self, which: str) -> list[tuple[bytes, list[int], float]]:
        """(function, counts, sum) of the ``wait`` or ``run`` histogram of each function
        that observed any."""
        rows = []
        for name, stats in self.functions.items():
            histogram: Histogram = getattr(stats, which)
            counts = histogram.buckets()
            if any(counts):
                rows.append((name, counts, histogram.total))
        return rows


class CountedFunction(Function):
    """A function with its counters (those of its name: made again, it counts on), that notes
    when its worker list changes."""

    __slots__ = ("stats",)

    stats: FunctionStats

    def add_worker(self, worker: Peer) -> Ability:
        self.stats.changed = True
        return Function.add_worker(self, worker)

    def remove_worker(self, ability: Ability) -> None:
        self.stats.changed = True
        Function.remove_worker(self, ability)


def _stats(job: Job) -> FunctionStats:
    """The counters of a job of the counting engine (whose functions are all counted); for the
    handlers off the common path."""
    function: CountedFunction = job.function  # type: ignore[assignment]
    return function.stats


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
    assigned and what each worker did, for the status page.

    It is compiled with the engine, and calls the methods it extends as ``Engine.method(self,
    ...)``: the compiled build makes that a direct call (pure Python a class attribute lookup),
    where ``super()`` would build an object per call in pure Python."""

    def __init__(self, options: EngineOptions,
                 admin: Callable[[Engine, Peer, tuple[bytes, ...]], bytes] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(options, admin, clock)
        self.times_batches = True
        self.peer_class = WatchedPeer
        self.functions.new_function = self._new_function
        self.stats = Stats()
        #: The names of the functions the table forgot since the monitor last copied them, at
        #: most ``MAX_FORGOTTEN`` (a server nobody scrapes must not keep every name it forgot).
        self.forgotten: list[bytes] = []
        #: More were forgotten than that: the monitor's next copy must be complete.
        self.forgotten_overflow = False
        #: ``MAX_FORGOTTEN`` for this engine (a test lowers it: the compiled module's constant
        #: is inlined where it is read, so patching the module would change nothing).
        self.max_forgotten = MAX_FORGOTTEN
        self.functions.on_forget = self._forgotten

    def _forgotten(self, name: bytes) -> None:
        if len(self.forgotten) < self.max_forgotten:
            self.forgotten.append(name)
        else:
            self.forgotten.clear()
            self.forgotten_overflow = True

    def take_forgotten(self) -> tuple[bytes, ...] | None:
        """The names forgotten since the last call; None if there were too many to keep."""
        forgotten = None if self.forgotten_overflow else tuple(self.forgotten)
        self.forgotten.clear()
        self.forgotten_overflow = False
        return forgotten

    # -- connections ---------------------------------------------------------------------------

    def connect(self, endpoint: Any, fd: int, ip: str) -> Peer:
        peer: WatchedPeer = Engine.connect(self, endpoint, fd, ip)  # type: ignore[assignment]
        peer.connected_at = peer.active_at = self.now
        peer.jobs_taken = 0
        self.stats.connections_total += 1
        return peer

    # -- jobs ----------------------------------------------------------------------------------
    # The engine's records are declared as the counting engine's kinds where they are read
    # (``timed: TimedJob = job``): a check in the compiled build, nothing in pure Python, where
    # ``cast()`` would be a call.

    def _new_function(self, name: bytes) -> CountedFunction:
        function = CountedFunction(name)
        functions = self.stats.functions
        stats = functions.get(name)
        if stats is None:  # the first time the name is seen
            stats = functions[name] = FunctionStats()
        stats.changed = True  # a function made again after it was forgotten has a row anew
        function.stats = stats
        return function

    def new_job(self, handle: bytes, function: Function, unique: bytes,
                data: bytes | memoryview, priority: int, background: bool, reducer: bytes,
                when: int) -> Job:
        """A job ``submit`` makes (not one it coalesces onto), counted as submitted."""
        job = TimedJob(handle, function, unique, data, priority, background, reducer, when)
        job.queued_at = self.now
        job.assigned_at = None
        counted: CountedFunction = function  # type: ignore[assignment]
        stats = counted.stats
        stats.changed = True
        (stats.background if background else stats.foreground)[priority] += 1
        return job

    def _grab(self, peer: Peer) -> Job | None:
        job = Engine._grab(self, peer)
        now = self.now
        watched: WatchedPeer = peer  # type: ignore[assignment]
        watched.active_at = now
        if job is not None:
            timed: TimedJob = job  # type: ignore[assignment]
            function: CountedFunction = job.function  # type: ignore[assignment]
            watched.jobs_taken += 1
            timed.assigned_at = now
            waited = now - timed.queued_at
            stats = function.stats
            stats.changed = True
            histogram = stats.wait
            if waited <= FIRST_BOUND:
                histogram.first += 1
            else:
                histogram.counts[bisect_left(BUCKETS, waited, 1)] += 1
            histogram.total += waited
        return job

    def _release(self, job: Job) -> None:
        timed: TimedJob = job  # type: ignore[assignment]
        timed.queued_at = float(job.when)  # an epoch job waits for a worker from its due time
        _stats(job).changed = True
        Engine._release(self, job)

    def _enqueue(self, job: Job) -> None:
        _stats(job).changed = True  # queued or scheduled once its row is stored
        Engine._enqueue(self, job)

    def _requeue(self, job: Job) -> None:
        timed: TimedJob = job  # type: ignore[assignment]
        timed.assigned_at = None
        timed.queued_at = self.now
        _stats(job).changed = True
        Engine._requeue(self, job)

    def _forget(self, job: Job, reason: str) -> None:
        Engine._forget(self, job, reason)
        timed: TimedJob = job  # type: ignore[assignment]
        function: CountedFunction = job.function  # type: ignore[assignment]
        assigned = timed.assigned_at
        stats = function.stats
        stats.changed = True
        if assigned is not None:  # a worker held it
            ran = self.now - assigned
            histogram = stats.run
            if ran <= FIRST_BOUND:
                histogram.first += 1
            else:
                histogram.counts[bisect_left(BUCKETS, ran, 1)] += 1
            histogram.total += ran
            if reason == COMPLETED and not job.cancelled:
                return  # counted as the run's observation (see ``FunctionStats.ended``)
            stats.held_failures += 1
        stats.ended[CANCELLED if job.cancelled else reason] += 1
