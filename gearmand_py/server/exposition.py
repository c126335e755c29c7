"""The per-function metric families of ``/metrics``, written straight into the text format.

They are nearly all of a big scrape (10,000 functions make 80,000 gauge lines), and building a
``prometheus_client`` sample object per value, then formatting each with its labels escaped
again, took most of a second per scrape on the monitor's thread, which the job server's threads
then wait for (one GIL). Here each function's label is escaped once for all its lines. The text
is exactly what ``prometheus_client.generate_latest`` writes for the same families (its number
formatting is used; ``tests/server/test_exposition.py`` compares the two byte for byte), so
the format stays the library's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.utils import floatToGoString

from gearmand_py.core.snapshot import cumulative
from gearmand_py.core.stats import BUCKETS, COMPLETED, HANDED_OVER

#: Longest function name shown as a label value; longer ones end in ``~`` and a hash of the
#: whole name, so two long names never share a label.
LABEL_LIMIT = 200

#: bakins/gearman-exporter's gauges (its Grafana dashboards use these names) and ours.
GAUGES = (
    ("jobs", "gearman_jobs", "Jobs queued or running, as `status` counts them."),
    ("running", "gearman_jobs_running", "Jobs a worker is running."),
    ("waiting", "gearman_jobs_waiting", "Jobs waiting for a worker."),
    ("workers", "gearman_workers", "Workers that can do the function."),
    ("oldest_wait_seconds", "gearman_oldest_job_age_seconds",
     "How long the oldest job waiting for a worker has waited."),
)
HISTOGRAMS = (
    ("wait", "gearman_job_wait_seconds", "From submit (or due time) to a worker taking the job."),
    ("run", "gearman_job_run_seconds", "From a worker taking the job to its end."),
)
_BOUNDS = [*map(floatToGoString, BUCKETS), "+Inf"]


def label(name: str) -> str:
    """A function name as a label value (before escaping)."""
    if len(name) <= LABEL_LIMIT:
        return name
    return name[:LABEL_LIMIT] + "~" + hashlib.sha1(name.encode()).hexdigest()[:12]


def _escaped(name: str) -> str:
    return label(name).replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _number(value: float) -> str:
    # floatToGoString's result for the small whole numbers most values are, without its work.
    if value.__class__ is int and 0 <= value < 1_000_000:  # type: ignore[comparison-overlap]
        return f"{value}.0"
    return floatToGoString(value)


def _header(name: str, kind: str, text: str) -> str:
    return f"# HELP {name} {text}\n# TYPE {name} {kind}\n"


#: Help of gearman_jobs_handed_over_total.
HANDED_OVER_HELP = ("Background jobs this server left to the shared queue for any server to run "
                    "(--shared-queue).")


def function_families(snap: dict[str, Any]) -> str:
    """Every family with a ``function`` label, from a snapshot (``core.snapshot.take``)."""
    return "".join(_lines(snap))


def _lines(snap: dict[str, Any]) -> Iterator[str]:
    functions = snap["functions"]
    names = [_escaped(f["name"]) for f in functions]
    for key, metric, text in GAUGES:
        yield _header(metric, "gauge", text)
        for name, f in zip(names, functions):
            yield f'{metric}{{function="{name}"}} {_number(f[key])}\n'
    yield _header("gearman_jobs_queued", "gauge",
                  "Jobs waiting per priority (epoch jobs not due yet are not in it).")
    for name, f in zip(names, functions):
        for priority, count in f["queued"].items():
            yield f'gearman_jobs_queued{{function="{name}",priority="{priority}"}} ' \
                  f'{_number(count)}\n'
    yield _header("gearman_jobs_submitted_total", "counter", "Jobs submitted (replayed ones too).")
    for row in snap["submitted"]:
        background = "true" if row["background"] else "false"
        yield (f'gearman_jobs_submitted_total{{background="{background}",'
               f'function="{_escaped(row["function"])}",priority="{row["priority"]}"}} '
               f'{_number(row["count"])}\n')
    ended = snap["ended"]
    yield _header("gearman_jobs_completed_total", "counter", "Jobs that completed.")
    yield from _ended_so(ended, COMPLETED, "gearman_jobs_completed_total")
    yield _header("gearman_jobs_handed_over_total", "counter", HANDED_OVER_HELP)
    yield from _ended_so(ended, HANDED_OVER, "gearman_jobs_handed_over_total")
    yield _header("gearman_jobs_failed_total", "counter", "Jobs that ended any other way.")
    for row in ended:
        if row["reason"] not in (COMPLETED, HANDED_OVER):
            yield (f'gearman_jobs_failed_total{{function="{_escaped(row["function"])}",'
                   f'reason="{row["reason"]}"}} {_number(row["count"])}\n')
    for key, metric, text in HISTOGRAMS:
        yield _header(metric, "histogram", text)
        yield from _histograms(metric, snap[key].items())


def _ended_so(ended: list[dict[str, Any]], reason: str, metric: str) -> Iterator[str]:
    for row in ended:
        if row["reason"] == reason:
            yield f'{metric}{{function="{_escaped(row["function"])}"}} {_number(row["count"])}\n'


def _histograms(metric: str, items: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[str]:
    for function, h in items:
        name = _escaped(function)
        total = 0
        for bound, total in zip(_BOUNDS, cumulative(h["counts"])):
            yield f'{metric}_bucket{{function="{name}",le="{bound}"}} {_number(total)}\n'
        yield f'{metric}_count{{function="{name}"}} {_number(total)}\n'
        yield f'{metric}_sum{{function="{name}"}} {_number(h["sum"])}\n'
