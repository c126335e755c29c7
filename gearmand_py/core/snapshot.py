"""A picture of the tables for the monitor, taken on the processing thread between turns.

The monitor's threads never read the engine: they ask for a snapshot and get plain values
(``dict``s, ``list``s, numbers, ``str``), which they may read at leisure. A snapshot is bounded
whatever the server holds: every function is in it (as in ``status``), but workers and jobs only
a page at a time (``PAGE`` rows, from an offset), with their totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from gearmand_py.core.model import PRIORITIES, Job, Peer
from gearmand_py.core.stats import CountingEngine

#: Rows of workers or jobs a snapshot holds at most.
PAGE = 25
#: The furthest offset into the jobs a page may start at: paging walks the job table from its
#: start, so a page far in is a long walk on the processing thread.
MAX_JOB_OFFSET = 10_000
_PRIORITY = ("high", "normal", "low")


def _name(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def take(engine: CountingEngine, worker_offset: int = 0, job_offset: int = 0) -> dict[str, Any]:
    """Everything ``/metrics``, ``/api/status`` and the page show, as plain values."""
    now = engine.clock()
    stats = engine.stats
    functions = []
    for function in engine.functions.values():
        queued = [len(function.queues[p]) for p in PRIORITIES]
        heads = [engine.queued_at.get(function.queues[p][0]) for p in PRIORITIES if queued[p]]
        oldest = min((t for t in heads if t is not None), default=None)
        functions.append({
            "name": _name(function.name), "jobs": function.job_total,
            "running": function.job_running, "waiting": function.job_total - function.job_running,
            "queued": dict(zip(_PRIORITY, queued)), "scheduled": function.scheduled,
            "workers": function.worker_count,
            "oldest_wait_seconds": 0.0 if oldest is None else max(now - oldest, 0.0),
        })
    peers = list(reversed(engine.peers.values()))  # newest first, as ``workers``
    workers = [p for p in peers if p.functions]
    worker_offset = max(0, min(worker_offset, len(workers)))
    job_offset = max(0, min(job_offset, MAX_JOB_OFFSET, len(engine.jobs)))
    kinds = {"worker": len(workers), "client": 0, "other": 0}
    for peer in peers:
        if not peer.functions:
            kinds["client" if peer.client_jobs else "other"] += 1
    return {
        "time": now,
        "functions": functions,
        "connections": kinds,
        "connections_total": stats.connections_total,
        "workers": {"total": len(workers), "offset": worker_offset,
                    "rows": [_worker(engine, p, now)
                             for p in workers[worker_offset:worker_offset + PAGE]]},
        "jobs": {"total": len(engine.jobs), "offset": job_offset,
                 "rows": [_job(engine, j, now)
                          for j in islice(engine.jobs.values(), job_offset, job_offset + PAGE)]},
        "submitted": [{"function": _name(f), "priority": _PRIORITY[p], "background": b, "count": n}
                      for (f, p, b), n in stats.submitted.items()],
        "ended": [{"function": _name(f), "reason": r, "count": n}
                  for (f, r), n in stats.ended.items()],
        "wait": _histograms(stats.wait.items()),
        "run": _histograms(stats.run.items()),
        "scheduled": sum(f.scheduled for f in engine.functions.values()),
    }


def _histograms(items: Iterable[tuple[bytes, Any]]) -> dict[str, dict[str, Any]]:
    return {_name(name): {"counts": list(h.counts), "sum": h.total} for name, h in items}


def _worker(engine: CountingEngine, peer: Peer, now: float) -> dict[str, Any]:
    return {
        "fd": peer.fd, "address": peer.ip, "client_id": _name(peer.client_id),
        "functions": [_name(f.name) for f in peer.functions],
        "jobs": [{"handle": _name(j.handle), "function": _name(j.function.name),
                  "seconds": max(now - engine.assigned_at.get(j, now), 0.0)}
                 for j in peer.running],
        "jobs_done": engine.jobs_taken.get(peer, 0) - len(peer.running),
        "connected_seconds": max(now - engine.connected_at.get(peer, now), 0.0),
        "idle_seconds": 0.0 if peer.running else max(now - engine.active_at.get(peer, now), 0.0),
        "sleeping": peer.sleeping,
    }


def _job(engine: CountingEngine, job: Job, now: float) -> dict[str, Any]:
    if job.worker is not None:
        state, since = "running", engine.assigned_at.get(job, now)
    elif job.waiting is not None:
        state, since = "storing", engine.queued_at.get(job, now)
    elif job.when and job.when > now:
        state, since = "scheduled", float(job.when)
    else:
        state, since = "queued", engine.queued_at.get(job, now)
    return {
        "handle": _name(job.handle), "function": _name(job.function.name),
        "unique": _name(job.unique), "priority": _PRIORITY[job.priority],
        "background": job.background, "state": state, "seconds": now - since,
        "numerator": job.numerator, "denominator": job.denominator,
        "clients": len(job.clients), "cancelled": job.ignore,
    }


def cumulative(counts: list[int]) -> Iterator[int]:
    """Per-bucket counts as Prometheus's cumulative ``le`` buckets."""
    total = 0
    for count in counts:
        total += count
        yield total
