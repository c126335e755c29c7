"""The per-function families of /metrics are byte for byte what prometheus_client writes for the
values /api/status shows of the same tables, whatever the function names and numbers, and stay
so from one scrape to the next as functions change, come and go (the kept lines)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from gearmand_py.core.model import COMPLETED, HANDED_OVER, REASONS
from gearmand_py.core.snapshot import Raw, Tables, cumulative, shape
from gearmand_py.core.stats import BUCKETS
from gearmand_py.server.exposition import GAUGES, HANDED_OVER_HELP, HISTOGRAMS, Exposition, label


class _Reference:
    """The same families, built the ordinary way with prometheus_client."""

    def __init__(self, snap: dict[str, Any]) -> None:
        self.snap = snap

    def collect(self) -> Any:
        snap = self.snap
        for key, name, text in GAUGES:
            family = GaugeMetricFamily(name, text, labels=["function"])
            for f in snap["functions"]["rows"]:
                family.add_metric([label(f["name"])], f[key])
            yield family
        queued = GaugeMetricFamily("gearman_jobs_queued", "Jobs waiting per priority (epoch "
                                   "jobs not due yet are not in it).",
                                   labels=["function", "priority"])
        for f in snap["functions"]["rows"]:
            for priority, count in f["queued"].items():
                queued.add_metric([label(f["name"]), priority], count)
        yield queued
        submitted = CounterMetricFamily("gearman_jobs_submitted", "Jobs submitted (replayed "
                                        "ones too).",
                                        labels=["function", "priority", "background"])
        for row in snap["submitted"]:
            submitted.add_metric([label(row["function"]), row["priority"],
                                  "true" if row["background"] else "false"], row["count"])
        yield submitted
        completed = CounterMetricFamily("gearman_jobs_completed", "Jobs that completed.",
                                        labels=["function"])
        handed_over = CounterMetricFamily("gearman_jobs_handed_over", HANDED_OVER_HELP,
                                          labels=["function"])
        failed = CounterMetricFamily("gearman_jobs_failed", "Jobs that ended any other way.",
                                     labels=["function", "reason"])
        for row in snap["ended"]:
            if row["reason"] == COMPLETED:
                completed.add_metric([label(row["function"])], row["count"])
            elif row["reason"] == HANDED_OVER:
                handed_over.add_metric([label(row["function"])], row["count"])
            else:
                failed.add_metric([label(row["function"]), row["reason"]], row["count"])
        yield completed
        yield handed_over
        yield failed
        bounds = [*map(floatToGoString, BUCKETS), "+Inf"]
        for key, name, text in HISTOGRAMS:
            family = HistogramMetricFamily(name, text, labels=["function"])
            for function, h in snap[key].items():
                family.add_metric([label(function)], list(zip(bounds, cumulative(h["counts"]))),
                                  h["sum"])
            yield family


def reference(tables: Tables) -> str:
    """What prometheus_client writes for what /api/status says of ``tables``."""
    snap = shape(Raw(tables.time, len(tables.functions), 0, tables.functions, tables.counters,
                     (0, 0, 0, 0), {}, 0, 0, 0, [], 0, 0, []))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Reference(snap))  # type: ignore[arg-type]
    return generate_latest(registry).decode()


names = st.one_of(st.sampled_from(["resize", 'say "hi"', "back\\slash", "two\nlines",
                                   "naïve ✓", "x" * 300]),
                  st.text(min_size=1, max_size=40))
#: Few values, so that a function's row often comes again unchanged.
counts = st.one_of(st.sampled_from([0, 1, 7]), st.integers(0, 2_000_000),
                   st.sampled_from([999_999, 1_000_000, 10**16]))
seconds = st.one_of(st.just(0.0), st.floats(0, 1e7, allow_nan=False))
BUCKET_COUNTS = len(BUCKETS) + 1


@st.composite
def gauges(draw: st.DrawFn, name: bytes, now: float) -> tuple[object, ...]:
    heads = [draw(st.one_of(st.none(), st.floats(now - 2e6, now + 1, allow_nan=False)))
             for _ in range(3)]
    return (name, draw(counts), draw(counts), draw(counts), draw(counts), draw(counts),
            draw(counts), draw(counts), *heads)


@st.composite
def counters(draw: st.DrawFn, name: bytes) -> tuple[object, ...]:
    def histogram() -> tuple[int, tuple[int, ...], float]:
        return (draw(counts), (0, *(draw(counts) for _ in range(BUCKET_COUNTS - 1))),
                draw(seconds))
    wait, run = histogram(), histogram()
    held = draw(st.integers(0, run[0] + sum(run[1])))  # completed is never below 0
    return (name, tuple(draw(counts) for _ in range(3)), tuple(draw(counts) for _ in range(3)),
            tuple(draw(counts) for _ in REASONS[1:]), held, *wait, *run)


@st.composite
def scrapes(draw: st.DrawFn) -> list[Tables]:
    """A few scrapes of a server whose functions change, leave and come (in the engine's
    order: a name keeps its place, new ones come last)."""
    pool = [name.encode() for name in draw(st.lists(names, max_size=6, unique=True))]
    taken = []
    last: dict[bytes, tuple[tuple[object, ...], tuple[object, ...]]] = {}
    for _ in range(draw(st.integers(1, 3))):
        now = draw(st.floats(0, 2e9, allow_nan=False))
        present = [name for name in pool if draw(st.booleans())]
        rows = {}
        for name in present:
            if name in last and draw(st.booleans()):
                rows[name] = last[name]  # unchanged since the last scrape
            else:
                rows[name] = (draw(gauges(name, now)), draw(counters(name)))
        last = rows
        taken.append(Tables(now, [rows[n][0] for n in present], [rows[n][1] for n in present],
                            {}, 0))
    return taken


@settings(max_examples=200)
@given(scrapes())
def test_function_families_are_what_prometheus_client_writes(taken: list[Tables]) -> None:
    exposition = Exposition()
    for tables in taken:
        assert "".join(exposition.families(tables)) == reference(tables)


def test_an_empty_server_has_the_families_without_samples() -> None:
    empty = Tables(0.0, [], [], {}, 0)
    text = "".join(Exposition().families(empty))
    assert text == reference(empty)
    assert "# TYPE gearman_jobs gauge" in text and "# TYPE gearman_job_run_seconds histogram" \
        in text
