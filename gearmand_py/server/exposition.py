"""The per-function metric families of ``/metrics``, written straight into the text format.

They are nearly all of a big scrape (10,000 functions make 80,000 gauge lines), and building a
``prometheus_client`` sample object per value, then formatting each with its labels escaped
again, took most of a second per scrape on the monitor's thread, which the job server's threads
then wait for (one GIL). Here each function's lines are written once and kept (``Exposition``)
until the processing thread hands new tuples of it (``core.snapshot.take_all``, which after the
first scrape copies only the functions that changed), so a scrape formats only those and the
age of each function's oldest waiting job. The text is exactly what
``prometheus_client.generate_latest`` writes for the same families (its number formatting is
used; ``tests/server/test_exposition.py`` compares the two byte for byte), so the format stays
the library's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from typing import Any

from prometheus_client.utils import floatToGoString

from gearmand_py.core.model import COMPLETED, HANDED_OVER
from gearmand_py.core.snapshot import (
    Counters,
    Gauges,
    Tables,
    cumulative,
    ended,
    histogram,
    oldest,
    submitted,
)
from gearmand_py.core.stats import BUCKETS

#: Longest function name shown as a label value; longer ones end in ``~`` and a hash of the
#: whole name, so two long names never share a label.
LABEL_LIMIT = 200

#: bakins/gearman-exporter's gauges (its Grafana dashboards use these names) and ours, by their
#: field in ``/api/status``'s functions.
GAUGES = (
    ("jobs", "gearman_jobs", "Jobs queued or running, as `status` counts them."),
    ("running", "gearman_jobs_running", "Jobs a worker is running."),
    ("waiting", "gearman_jobs_waiting", "Jobs waiting for a worker."),
    ("workers", "gearman_workers", "Workers that can do the function."),
    ("oldest_wait_seconds", "gearman_oldest_job_age_seconds",
     "How long the oldest job waiting for a worker has waited."),
)
QUEUED = ("gearman_jobs_queued", "Jobs waiting per priority (epoch jobs not due yet are not in it).")
HISTOGRAMS = (
    ("wait", "gearman_job_wait_seconds", "From submit (or due time) to a worker taking the job."),
    ("run", "gearman_job_run_seconds", "From a worker taking the job to its end."),
)
#: Help of gearman_jobs_handed_over_total.
HANDED_OVER_HELP = ("Background jobs this server left to the shared queue for any server to run "
                    "(--shared-queue).")
#: The families written from the counters, in the order of their lines in ``_counter_lines``.
COUNTERS = (
    ("gearman_jobs_submitted_total", "counter", "Jobs submitted (replayed ones too)."),
    ("gearman_jobs_completed_total", "counter", "Jobs that completed."),
    ("gearman_jobs_handed_over_total", "counter", HANDED_OVER_HELP),
    ("gearman_jobs_failed_total", "counter", "Jobs that ended any other way."),
    *((metric, "histogram", text) for _key, metric, text in HISTOGRAMS),
)
_BOUNDS = [*map(floatToGoString, BUCKETS), "+Inf"]
#: A function's lines, each family's apart, after the row they were written from.
Lines = tuple[Any, ...]


def label(name: str) -> str:
    """A function name as a label value (before escaping)."""
    if len(name) <= LABEL_LIMIT:
        return name
    return name[:LABEL_LIMIT] + "~" + hashlib.sha1(name.encode()).hexdigest()[:12]


def _escaped(name: bytes) -> str:
    text = label(name.decode("utf-8", "replace"))
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def _number(value: float) -> str:
    # floatToGoString's result for the values most are, without its work: small whole numbers,
    # and floats it would write as repr does (below 1e6 it switches to no exponent).
    if value.__class__ is int and 0 <= value < 1_000_000:  # type: ignore[comparison-overlap]
        return f"{value}.0"
    if value.__class__ is float and 0.0 <= value < 1e6:
        return repr(value)
    return floatToGoString(value)


def _header(name: str, kind: str, text: str) -> str:
    return f"# HELP {name} {text}\n# TYPE {name} {kind}\n"


def _gauge_lines(gauges: Gauges) -> Lines:
    """A function's gauges' lines, each family's apart: (the gauges they were written from,
    jobs, running, waiting, workers, the start of its oldest job's age line, when that job
    began waiting or None, its queued per priority)."""
    name = _escaped(gauges[0])
    jobs, running = gauges[1], gauges[2]
    values = {"jobs": jobs, "running": running, "waiting": jobs - running, "workers": gauges[7]}
    lines = [f'{metric}{{function="{name}"}} {_number(values[key])}\n'
             for key, metric, _text in GAUGES[:4]]
    queued = "".join(f'{QUEUED[0]}{{function="{name}",priority="{priority}"}} '
                     f'{_number(count)}\n'
                     for priority, count in zip(("high", "normal", "low"), gauges[3:6]))
    return (gauges, *lines, f'{GAUGES[4][1]}{{function="{name}"}} ', oldest(gauges), queued)


def _counter_lines(counters: Counters) -> Lines:
    """A function's counters' lines, each family's apart: (the counters they were written
    from, submitted, completed, handed over, failed, wait, run)."""
    name = _escaped(counters[0])
    sub = "".join(f'gearman_jobs_submitted_total{{background="{"true" if background else "false"}'
                  f'",function="{name}",priority="{priority}"}} {_number(count)}\n'
                  for priority, background, count in submitted(counters))
    completed = handed_over = failed = ""
    for reason, count in ended(counters):
        if reason == COMPLETED:
            completed = f'gearman_jobs_completed_total{{function="{name}"}} {_number(count)}\n'
        elif reason == HANDED_OVER:
            handed_over = (f'gearman_jobs_handed_over_total{{function="{name}"}} '
                           f'{_number(count)}\n')
        else:
            failed += (f'gearman_jobs_failed_total{{function="{name}",reason="{reason}"}} '
                       f'{_number(count)}\n')
    return (counters, sub, completed, handed_over, failed,
            *(_histogram_lines(metric, name, histogram(counters, key))
              for key, metric, _text in HISTOGRAMS))


def _histogram_lines(metric: str, name: str, observed: tuple[list[int], float] | None) -> str:
    if observed is None:
        return ""
    counts, total_seconds = observed
    lines = []
    total = 0
    for bound, total in zip(_BOUNDS, cumulative(counts)):
        lines.append(f'{metric}_bucket{{function="{name}",le="{bound}"}} {_number(total)}\n')
    lines.append(f'{metric}_count{{function="{name}"}} {_number(total)}\n')
    lines.append(f'{metric}_sum{{function="{name}"}} {_number(total_seconds)}\n')
    return "".join(lines)


def _age_line(now: float, start: str, since: float | None) -> str:
    """The oldest job's age line, written at every scrape (the one value that changes with
    the clock)."""
    if since is None:
        return start + "0.0\n"
    age = now - since
    if 0.0 <= age < 1e6:  # _number's float case, inline: there are as many as functions
        return f"{start}{age!r}\n"
    return f"{start}{_number(max(age, 0.0))}\n"


def _update(entries: dict[bytes, Lines], rows: list[tuple[Any, ...]],
            write: Callable[[tuple[Any, ...]], Lines], kept: dict[bytes, Lines]) -> None:
    """Enter each of ``rows``' lines in ``entries``: those in ``kept`` where its row is
    unchanged, else new ones. A function already in ``entries`` stays in its place, a new one
    comes last (as in the engine's tables)."""
    for row in rows:
        lines = kept.get(row[0])
        entries[row[0]] = lines if lines is not None and lines[0] == row else write(row)


class Exposition:
    """Writes the families with a ``function`` label, keeping each function's lines from one
    scrape to the next. Tables that are not complete apply to what the last ones left, so
    they must come in the order ``take_all`` made them, one scrape at a time (the monitor
    holds a lock from the one to the other)."""

    def __init__(self) -> None:
        self._gauges: dict[bytes, Lines] = {}
        self._counters: dict[bytes, Lines] = {}

    def families(self, tables: Tables) -> list[str]:
        """Every family with a ``function`` label, from ``core.snapshot.take_all``, one
        string each (not joined: a big scrape's text is megabytes)."""
        # Complete tables replace the lines (only their rows' are kept, so what is kept does not
        # outgrow the tables); the others change them.
        gauges, counters = ({}, {}) if tables.complete else (self._gauges, self._counters)
        for name in tables.forgotten:
            gauges.pop(name, None)
        _update(gauges, tables.functions, _gauge_lines, self._gauges)
        _update(counters, tables.counters, _counter_lines, self._counters)
        self._gauges, self._counters = gauges, counters
        g = list(zip(*gauges.values())) or [()] * 8  # each family's lines, by function
        c = list(zip(*counters.values())) or [()] * 7
        now = tables.time
        out = [_header(metric, "gauge", text) + "".join(g[i])
               for i, (_key, metric, text) in enumerate(GAUGES[:4], 1)]
        _key, metric, text = GAUGES[4]
        out.append(_header(metric, "gauge", text)
                   + "".join(map(partial(_age_line, now), g[5], g[6])))
        out.append(_header(QUEUED[0], "gauge", QUEUED[1]) + "".join(g[7]))
        out += [_header(metric, kind, text) + "".join(c[i])
                for i, (metric, kind, text) in enumerate(COUNTERS, 1)]
        return out
