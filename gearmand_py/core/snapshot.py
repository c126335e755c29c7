"""A picture of the tables for the monitor, taken on the processing thread between turns.

The monitor's threads never read the engine: they ask for a snapshot and get plain values
(``take``: tuples, lists, numbers), which they may read at leisure and turn into the form they
serve (``shape``) on their own thread, so that the processing thread, during which no job moves,
does only the copying. A snapshot is bounded whatever the server holds: every function is in it
(as in ``status``), but workers and jobs only a page at a time (``PAGE`` rows, from an offset),
with their totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, NamedTuple

from gearmand_py.core.stats import CountingEngine, TimedJob, WatchedPeer

#: Rows of workers or jobs a snapshot holds at most.
PAGE = 25
#: The furthest offset into the jobs a page may start at: paging walks the job table from its
#: start, so a page far in is a long walk on the processing thread.
MAX_JOB_OFFSET = 10_000
_PRIORITY = ("high", "normal", "low")


def _name(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def take(engine: CountingEngine, worker_offset: int = 0, job_offset: int = 0) -> Raw:
    """What the processing thread copies out between two turns: the least work that freezes
    the picture (a tuple per function, copies of the counters), because jobs wait while it
    runs; ``shape`` makes the rest of it on the monitor's thread."""
    now = engine.clock()
    functions = []
    for function in engine.functions.values():
        high, normal, low = function.queues
        heads = [q[0].queued_at for q in function.queues if q]  # type: ignore[attr-defined]
        functions.append((function.name, function.job_total, function.job_running, len(high),
                          len(normal), len(low), function.scheduled, function.worker_count,
                          heads))
    peers = list(reversed(engine.peers.values()))  # newest first, as ``workers``
    workers = [p for p in peers if p.functions]
    worker_offset = max(0, min(worker_offset, len(workers)))
    job_offset = max(0, min(job_offset, MAX_JOB_OFFSET, len(engine.jobs)))
    clients = sum(1 for p in peers if not p.functions and p.client_jobs)
    stats = engine.stats
    return Raw(
        now, functions, {"worker": len(workers), "client": clients,
                         "other": len(peers) - len(workers) - clients},
        stats.connections_total,
        len(workers), worker_offset,
        [_worker(p, now) for p in workers[worker_offset:worker_offset + PAGE]],
        len(engine.jobs), job_offset,
        [_job(j, now)  # type: ignore[arg-type]
         for j in islice(engine.jobs.values(), job_offset, job_offset + PAGE)],
        stats.submitted(), stats.ended(), stats.histograms("wait"), stats.histograms("run"))


class Raw(NamedTuple):
    """A snapshot as ``take`` copies it: plain values only, safe to read on another thread."""

    time: float
    #: (name, jobs, running, queued high, normal, low, scheduled, workers, queued_at of heads)
    functions: list[tuple[Any, ...]]
    connections: dict[str, int]
    connections_total: int
    workers_total: int
    workers_offset: int
    workers: list[dict[str, Any]]
    jobs_total: int
    jobs_offset: int
    jobs: list[dict[str, Any]]
    submitted: list[tuple[tuple[bytes, int, bool], int]]
    ended: list[tuple[tuple[bytes, str], int]]
    wait: list[tuple[bytes, list[int], float]]
    run: list[tuple[bytes, list[int], float]]


def shape(raw: Raw) -> dict[str, Any]:
    """Everything ``/metrics``, ``/api/status`` and the page show, as ``/api/status`` has it."""
    now = raw.time
    functions = []
    scheduled = 0
    for name, jobs, running, high, normal, low, pending, workers, heads in raw.functions:
        oldest = min((t for t in heads if t is not None), default=None)
        scheduled += pending
        functions.append({
            "name": _name(name), "jobs": jobs, "running": running, "waiting": jobs - running,
            "queued": {"high": high, "normal": normal, "low": low}, "scheduled": pending,
            "workers": workers,
            "oldest_wait_seconds": 0.0 if oldest is None else max(now - oldest, 0.0),
        })
    return {
        "time": now,
        "functions": functions,
        "connections": raw.connections,
        "connections_total": raw.connections_total,
        "workers": {"total": raw.workers_total, "offset": raw.workers_offset,
                    "rows": raw.workers},
        "jobs": {"total": raw.jobs_total, "offset": raw.jobs_offset, "rows": raw.jobs},
        "submitted": [{"function": _name(f), "priority": _PRIORITY[p], "background": b, "count": n}
                      for (f, p, b), n in raw.submitted],
        "ended": [{"function": _name(f), "reason": r, "count": n} for (f, r), n in raw.ended],
        "wait": _histograms(raw.wait),
        "run": _histograms(raw.run),
        "scheduled": scheduled,
    }


def _histograms(items: Iterable[tuple[bytes, list[int], float]]) -> dict[str, dict[str, Any]]:
    return {_name(name): {"counts": counts, "sum": total} for name, counts, total in items}


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


def _job(job: TimedJob, now: float) -> dict[str, Any]:
    if job.worker is not None:
        state, since = "running", job.assigned_at
    elif job.waiting is not None:
        state, since = "storing", job.queued_at
    elif job.when and job.when > now:
        state, since = "scheduled", float(job.when)
    else:
        state, since = "queued", job.queued_at
    return {
        "handle": _name(job.handle), "function": _name(job.function.name),
        "unique": _name(job.unique), "priority": _PRIORITY[job.priority],
        "background": job.background, "state": state, "seconds": now - since,
        "numerator": job.numerator, "denominator": job.denominator,
        "clients": len(job.clients), "cancelled": job.cancelled, "abandoned": job.abandoned,
    }


def cumulative(counts: list[int]) -> Iterator[int]:
    """Per-bucket counts as Prometheus's cumulative ``le`` buckets."""
    total = 0
    for count in counts:
        total += count
        yield total
