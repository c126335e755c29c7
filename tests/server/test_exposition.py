"""The per-function families of /metrics are byte for byte what prometheus_client writes for the
same families, whatever the function names and numbers."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from gearmand_py.core.snapshot import cumulative
from gearmand_py.core.stats import BUCKETS, COMPLETED, HANDED_OVER, REASONS
from gearmand_py.server.exposition import (
    GAUGES,
    HANDED_OVER_HELP,
    HISTOGRAMS,
    function_families,
    label,
)


class _Reference:
    """The same families, built the ordinary way with prometheus_client."""

    def __init__(self, snap: dict[str, Any]) -> None:
        self.snap = snap

    def collect(self) -> Any:
        snap = self.snap
        for key, name, text in GAUGES:
            family = GaugeMetricFamily(name, text, labels=["function"])
            for f in snap["functions"]:
                family.add_metric([label(f["name"])], f[key])
            yield family
        queued = GaugeMetricFamily("gearman_jobs_queued", "Jobs waiting per priority (epoch "
                                   "jobs not due yet are not in it).",
                                   labels=["function", "priority"])
        for f in snap["functions"]:
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


def reference(snap: dict[str, Any]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Reference(snap))  # type: ignore[arg-type]
    return generate_latest(registry).decode()


names = st.one_of(st.sampled_from(["resize", 'say "hi"', "back\\slash", "two\nlines",
                                   "naïve ✓", "x" * 300]),
                  st.text(min_size=1, max_size=40))
counts = st.one_of(st.integers(0, 2_000_000), st.sampled_from([999_999, 1_000_000, 10**16]))
seconds = st.floats(0, 1e7, allow_nan=False)


@st.composite
def snapshots(draw: st.DrawFn) -> dict[str, Any]:
    functions = draw(st.lists(names, max_size=6, unique=True))
    histogram = st.fixed_dictionaries({
        "counts": st.lists(counts, min_size=len(BUCKETS) + 1, max_size=len(BUCKETS) + 1),
        "sum": seconds})
    return {
        "functions": [{"name": name, "jobs": draw(counts), "running": draw(counts),
                       "waiting": draw(counts), "workers": draw(counts),
                       "oldest_wait_seconds": draw(seconds),
                       "queued": {"high": draw(counts), "normal": draw(counts),
                                  "low": draw(counts)}} for name in functions],
        "submitted": [{"function": name, "priority": draw(st.sampled_from(["high", "normal",
                                                                            "low"])),
                       "background": draw(st.booleans()), "count": draw(counts)}
                      for name in functions],
        "ended": [{"function": name, "reason": reason, "count": draw(counts)}
                  for name in functions for reason in draw(st.sets(st.sampled_from(REASONS)))],
        "wait": {name: draw(histogram) for name in functions},
        "run": {name: draw(histogram) for name in functions[:2]},
    }


@settings(max_examples=200)
@given(snapshots())
def test_function_families_are_what_prometheus_client_writes(snap: dict[str, Any]) -> None:
    assert function_families(snap) == reference(snap)


def test_an_empty_server_has_the_families_without_samples() -> None:
    empty = {"functions": [], "submitted": [], "ended": [], "wait": {}, "run": {}}
    text = function_families(empty)
    assert text == reference(empty)
    assert "# TYPE gearman_jobs gauge" in text and "# TYPE gearman_job_run_seconds histogram" \
        in text
