"""Timers: CAN_DO_TIMEOUT deadlines let go of jobs that ended, and a failing callback is logged
without stopping the others."""

from __future__ import annotations

import logging
import tracemalloc

import pytest

from gearmand_py.core.timers import Timers
from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import World

JOBS = 2000
DATA = 10 * 1024


def run_jobs(w: World, worker: str, count: int, data: bytes) -> None:
    for _ in range(count):
        h = w.submit("c", b"f", b"", data)
        assert w.grab(worker)[:2] == ("JOB_ASSIGN", h)
        w.send(worker, T.WORK_COMPLETE, h, b"")
        assert w.recv("c") == [("WORK_COMPLETE", h, b"")]


@pytest.mark.parametrize("end", ["complete", "disconnect"])
def test_jobs_that_ended_before_their_timeout_are_not_kept(end: str) -> None:
    """100k 1 KiB jobs through a worker with a one-hour CAN_DO_TIMEOUT held 151 MB until the
    timeouts expired; plain CAN_DO held nothing."""
    w = World()
    w.connect("c")
    w.connect("w")
    w.send("w", T.CAN_DO_TIMEOUT, b"f", b"3600000")
    run_jobs(w, "w", 10, b"warm-up")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        if end == "complete":
            run_jobs(w, "w", JOBS, b"x" * DATA)
        else:  # workers take jobs and go away: the jobs are requeued, then completed
            handles = [w.submit("c", b"f", b"", b"x" * DATA) for _ in range(JOBS // 10)]
            for i in range(len(handles)):
                w.connect(f"gone{i}")
                w.send(f"gone{i}", T.CAN_DO_TIMEOUT, b"f", b"3600000")
                assert w.grab(f"gone{i}")[0] == "JOB_ASSIGN"
                w.disconnect(f"gone{i}")
            for _ in handles:
                h = w.grab("w")[1]
                w.send("w", T.WORK_COMPLETE, h, b"")
            assert len(w.recv("c")) == len(handles)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(w.engine.timers) == 0
    assert held < JOBS * DATA / 20, f"{held} bytes still held"


def test_a_timeout_still_fails_a_job_held_too_long() -> None:
    now = [1000.0]
    w = World(clock=lambda: now[0])
    w.connect("c")
    w.connect("w")
    w.send("w", T.CAN_DO_TIMEOUT, b"f", b"2000")
    h = w.submit("c", b"f")
    w.grab("w")
    now[0] += 1.9
    w.engine.timers.run_due(now[0])
    assert w.recv("c") == []
    now[0] += 0.2
    w.engine.timers.run_due(now[0])
    w.flush()
    assert w.recv("c") == [("WORK_FAIL", h)]
    assert len(w.engine.timers) == 0


def test_cancelled_timers_neither_run_nor_pile_up() -> None:
    timers = Timers()
    ran: list[int] = []
    kept = [timers.call_at(5.0, ran.append, 1)]
    for i in range(10_000):
        timers.cancel(timers.call_at(1.0 + i, ran.append, i))
    assert len(timers) == 1
    assert timers.next_deadline() == 5.0
    timers.run_due(10_001.0)
    assert ran == [1] and len(timers) == 0
    timers.cancel(kept[0])  # cancelling one that ran is harmless
    assert len(timers) == 0 and timers.next_deadline() is None


def test_a_failing_timer_is_logged_and_the_others_run(caplog: pytest.LogCaptureFixture) -> None:
    timers = Timers()
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("bug")
    timers.call_at(1.0, broken)
    timers.call_at(2.0, ran.append, "after")
    with caplog.at_level(logging.ERROR):
        timers.run_due(3.0)
    assert ran == ["after"]
    assert "internal error in timer broken" in caplog.text
