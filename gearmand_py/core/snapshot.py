"""A picture of the tables for the monitor, taken on the processing thread between turns.

The monitor's threads never read the engine: they ask for a snapshot and get plain values
(tuples, lists, numbers), which they may read at leisure and turn into the form they serve on
their own thread, so that the processing thread, during which no job moves, does only the
copying: a tuple of each function's gauges and one of its counters, as they are (``take_all``
for ``/metrics``: every function, or only those that changed since it last ran), or those of a
page of functions with the totals the page shows (``take`` for ``/api/status``, shaped by
``shape``). A page is bounded whatever the server holds: ``FUNCTION_PAGE`` functions and
``PAGE`` workers and jobs, from offsets, with totals.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from itertools import islice
from typing import Any, NamedTuple

from gearmand_py.core.model import COMPLETED, REASONS, Job, TimedJob
from gearmand_py.core.stats import CountingEngine, FunctionStats, WatchedPeer

#: Rows of workers or jobs a snapshot holds at most.
PAGE = 25
#: Functions a page of ``/api/status`` holds at most.
FUNCTION_PAGE = 100
#: The furthest offset into the jobs a page may start at: paging walks the job table from its
#: start, so a page far in is a long walk on the processing thread.
MAX_JOB_OFFSET = 10_000
_PRIORITY = ("high", "normal", "low")
_ENDED = REASONS[1:]  # the order of ``FunctionStats.ended``, which is made with every key

#: A function's gauges: (name, jobs, running, queued high, normal, low, scheduled, workers, and
#: ``queued_at`` of the head of each priority's queue or None).
Gauges = tuple[Any, ...]
#: A function's counters: (name, foreground and background jobs submitted per priority, the
#: counts of ``FunctionStats.ended``, held failures, the wait histogram's first count, counts
#: and sum, the run histogram's).
Counters = tuple[Any, ...]


def _name(value: bytes) -> str:
    return value.decode("utf-8", "replace")


class Tables(NamedTuple):
    """Every function's gauges and counters, for ``/metrics``; or, not ``complete``, those that
    changed since the last ``take_all``, to apply to what that gave."""

    time: float
    #: In the engine's order (not complete: of the functions that changed or are new).
    functions: list[Gauges]
    #: In the order of the counters' names, likewise.
    counters: list[Counters]
    connections: dict[str, int]
    connections_total: int
    complete: bool = True
    #: Not complete: the names of the functions forgotten since, whose gauges are gone (their
    #: counters stay), in order, before ``functions`` came.
    forgotten: tuple[bytes, ...] = ()


class Raw(NamedTuple):
    """A page of the tables as ``take`` copies it, for ``/api/status``."""

    time: float
    functions_total: int
    functions_offset: int
    functions: list[Gauges]
    #: Of the page's functions.
    counters: list[Counters]
    #: Over every function: jobs, running, scheduled, completed.
    totals: tuple[int, int, int, int]
    connections: dict[str, int]
    connections_total: int
    workers_total: int
    workers_offset: int
    workers: list[dict[str, Any]]
    jobs_total: int
    jobs_offset: int
    jobs: list[dict[str, Any]]


def _gauges(functions: Iterable[Any]) -> list[Gauges]:
    rows = []
    for function in functions:
        high, normal, low = function.queues
        rows.append((function.name, function.job_total, function.job_running, len(high),
                     len(normal), len(low), function.scheduled, function.worker_count,
                     high[0].queued_at if high else None, normal[0].queued_at if normal else None,
                     low[0].queued_at if low else None))
    return rows


def _counters(items: Iterable[tuple[bytes, FunctionStats]]) -> list[Counters]:
    rows = []
    for name, stats in items:
        wait, run = stats.wait, stats.run
        # Tuples, not lists: the collector stops tracking a tuple of numbers but keeps every
        # list, and the collections that copying thousands of functions sets off walk them.
        rows.append((name, tuple(stats.foreground), tuple(stats.background),
                     tuple(stats.ended.values()), stats.held_failures, wait.first,
                     tuple(wait.counts), wait.total, run.first, tuple(run.counts), run.total))
    return rows


def _connections(engine: CountingEngine) -> tuple[dict[str, int], list[WatchedPeer]]:
    """Open connections by kind, and the workers among them, newest first (as ``workers``)."""
    peers: list[WatchedPeer] = list(reversed(engine.peers.values()))  # type: ignore[arg-type]
    workers = [p for p in peers if p.functions]
    clients = sum(1 for p in peers if not p.functions and p.client_jobs)
    return ({"worker": len(workers), "client": clients,
             "other": len(peers) - len(workers) - clients}, workers)


def take_all(engine: CountingEngine, complete: bool = True) -> Tables:
    """What the processing thread copies for ``/metrics``: every function's tuples, as they
    are (names the engine swept out still have counters); or, not ``complete``, only the rows
    that changed since the last call, which on a server with many functions is most of the
    work spared (jobs wait while this runs)."""
    forgotten = engine.take_forgotten()
    complete = complete or forgotten is None
    named: Iterable[tuple[bytes, FunctionStats]] = engine.stats.functions.items()
    functions: Iterable[Any] = engine.functions.values()
    if not complete:
        named = [item for item in named if item[1].changed]
        functions = [f for f in functions if f.stats.changed]
    connections, _workers = _connections(engine)
    tables = Tables(engine.clock(), _gauges(functions), _counters(named), connections,
                    engine.stats.connections_total, complete, forgotten or ())
    for _name, stats in named:
        stats.changed = False
    return tables


def take(engine: CountingEngine, function_offset: int = 0, worker_offset: int = 0,
         job_offset: int = 0) -> Raw:
    """What the processing thread copies for a page of ``/api/status``: the least work that
    freezes the picture, because jobs wait while it runs; ``shape`` makes the rest of it on
    the monitor's thread."""
    now = engine.clock()
    functions = engine.functions.values()
    function_offset = max(0, min(function_offset, len(functions)))
    page = list(islice(functions, function_offset, function_offset + FUNCTION_PAGE))
    totals = (sum(f.job_total for f in functions), sum(f.job_running for f in functions),
              sum(f.scheduled for f in functions),
              sum(s.completed() for s in engine.stats.functions.values()))
    connections, workers = _connections(engine)
    worker_offset = max(0, min(worker_offset, len(workers)))
    job_offset = max(0, min(job_offset, MAX_JOB_OFFSET, len(engine.jobs)))
    return Raw(
        now, len(functions), function_offset, _gauges(page),
        _counters((f.name, f.stats) for f in page), totals,  # type: ignore[attr-defined]
        connections, engine.stats.connections_total,
        len(workers), worker_offset,
        [_worker(p, now) for p in workers[worker_offset:worker_offset + PAGE]],
        len(engine.jobs), job_offset,
        [_job(j, now, engine.committing)  # type: ignore[arg-type]
         for j in islice(engine.jobs.values(), job_offset, job_offset + PAGE)])


def oldest(gauges: Gauges) -> float | None:
    """When the function's oldest waiting job started waiting; None if none waits."""
    return min((t for t in gauges[8:] if t is not None), default=None)


def submitted(counters: Counters) -> Iterator[tuple[str, bool, int]]:
    """(priority, background, jobs) of each kind of job the function was submitted."""
    for background, counts in ((False, counters[1]), (True, counters[2])):
        for priority, count in enumerate(counts):
            if count:
                yield _PRIORITY[priority], background, count


def ended(counters: Counters) -> Iterator[tuple[str, int]]:
    """(reason, jobs) for each way the function's jobs ended, ``completed`` first."""
    completed = counters[8] + sum(counters[9]) - counters[4]  # as FunctionStats.completed
    if completed:
        yield COMPLETED, completed
    for reason, count in zip(_ENDED, counters[3]):
        if count:
            yield reason, count


def histogram(counters: Counters, which: str) -> tuple[list[int], float] | None:
    """The counts per bucket and the sum of the ``wait`` or ``run`` histogram, None if it
    observed nothing."""
    first = 5 if which == "wait" else 8
    counts = [counters[first], *counters[first + 1][1:]]
    return (counts, counters[first + 2]) if any(counts) else None


def shape(raw: Raw) -> dict[str, Any]:
    """A page as ``/api/status`` has it."""
    now = raw.time
    functions = []
    for gauges in raw.functions:
        name, jobs, running, high, normal, low, pending, workers = gauges[:8]
        since = oldest(gauges)
        functions.append({
            "name": _name(name), "jobs": jobs, "running": running, "waiting": jobs - running,
            "queued": {"high": high, "normal": normal, "low": low}, "scheduled": pending,
            "workers": workers,
            "oldest_wait_seconds": 0.0 if since is None else max(now - since, 0.0),
        })
    jobs, running, scheduled, completed = raw.totals
    shaped: dict[str, Any] = {
        "time": now,
        "functions": {"total": raw.functions_total, "offset": raw.functions_offset,
                      "rows": functions},
        "totals": {"jobs": jobs, "running": running, "waiting": jobs - running,
                   "completed": completed},
        "connections": raw.connections,
        "connections_total": raw.connections_total,
        "workers": {"total": raw.workers_total, "offset": raw.workers_offset,
                    "rows": raw.workers},
        "jobs": {"total": raw.jobs_total, "offset": raw.jobs_offset, "rows": raw.jobs},
        "submitted": [{"function": _name(c[0]), "priority": p, "background": b, "count": n}
                      for c in raw.counters for p, b, n in submitted(c)],
        "ended": [{"function": _name(c[0]), "reason": r, "count": n}
                  for c in raw.counters for r, n in ended(c)],
        "scheduled": scheduled,
    }
    for which in ("wait", "run"):
        shaped[which] = {_name(c[0]): {"counts": h[0], "sum": h[1]} for c in raw.counters
                         if (h := histogram(c, which)) is not None}
    return shaped


def _worker(peer: WatchedPeer, now: float) -> dict[str, Any]:
    return {
        "fd": peer.fd, "address": peer.ip, "client_id": _name(peer.client_id),
        "functions": [_name(f.name) for f in peer.functions],
        "jobs": [{"handle": _name(j.handle), "function": _name(j.function.name),
                  "seconds": max(now - j.assigned_at, 0.0)}  # type: ignore[attr-defined]
                 for j in peer.running],
        "jobs_done": peer.jobs_taken - len(peer.running),
        "connected_seconds": max(now - peer.connected_at, 0.0),
        "idle_seconds": 0.0 if peer.running else max(now - peer.active_at, 0.0),
        "sleeping": peer.sleeping,
    }


def _job(job: TimedJob, now: float, committing: Container[Job]) -> dict[str, Any]:
    if job.worker is not None:
        state, since = "running", job.assigned_at
    elif job in committing:
        state, since = "storing", job.queued_at
    elif job.when and job.when > now:
        state, since = "scheduled", float(job.when)
    else:
        state, since = "queued", job.queued_at
    return {
        "handle": _name(job.handle), "function": _name(job.function.name),
        "unique": _name(job.unique), "priority": _PRIORITY[job.priority],
        "background": job.background, "state": state, "seconds": now - since,
        "numerator": job.progress[0], "denominator": job.progress[1],
        "clients": len(job.clients), "cancelled": job.cancelled, "abandoned": job.abandoned,
    }


def cumulative(counts: list[int]) -> Iterator[int]:
    """Per-bucket counts as Prometheus's cumulative ``le`` buckets."""
    total = 0
    for count in counts:
        total += count
        yield total
