"""The processing core with a shared queue (``core.sharing``), its store thread played by a list:
which jobs a server keeps, handing over and taking over, the worker's next job waiting for its
finished job's row, a graceful give-back, what it asks the store for, and handle parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gearmand_py.core.admin import UNKNOWN_JOB
from gearmand_py.core.engine import (
    JOURNAL_ADD,
    JOURNAL_ASK,
    JOURNAL_DEMAND,
    JOURNAL_DONE,
    JOURNAL_RELEASE,
    JOURNAL_START,
    Engine,
)
from gearmand_py.core.sharing import PER_WORKER, Sharing
from gearmand_py.core.stats import CountingEngine
from gearmand_py.protocol.packets import PacketType as T
from queue_backends.base import StoredJob
from queue_backends.shared import MEMBER_SHIFT
from tests.core.harness import World

MEMBER = 3


def shared_world(**options) -> tuple[World, list[tuple]]:  # type: ignore[no-untyped-def]
    w = World(**options)
    ops: list[tuple] = []
    w.engine.share(Sharing(w.engine, ops.append), MEMBER, (MEMBER << MEMBER_SHIFT) + 1)
    return w, ops


def committed(w: World, ops: list[tuple]) -> list[bool]:
    """Commit every pending add as the thread would: kept ones are queued here, the others are
    handed over; returns whether each was kept."""
    adds = [op for op in ops if op[0] == JOURNAL_ADD]
    ops[:] = [op for op in ops if op[0] != JOURNAL_ADD]
    w.engine.journaled([op[1] for op in adds if op[3]], None)
    w.engine.hand_over([(op[1], op[1].handle) for op in adds if not op[3]])
    w.flush()
    return [op[3] for op in adds]


def test_handles_and_row_ids_name_the_member():
    w, ops = shared_world()
    w.connect("c")
    w.send("c", T.SUBMIT_JOB, b"f", b"", b"foreground first")
    w.send("c", T.SUBMIT_JOB_BG, b"f", b"", b"x")
    [add] = ops
    assert add[1].handle == b"H:test/3:2"
    assert add[2].id == (MEMBER << MEMBER_SHIFT) + 2
    assert w.engine.shared.row_id(b"H:test/3:2") == add[2].id


def test_an_idle_worker_asks_for_jobs_of_its_functions():
    w, ops = shared_world()
    w.connect("c")
    for _ in range(3):
        w.send("c", T.SUBMIT_JOB, b"f", b"", b"foreground")
    w.worker("w", b"f")
    w.engine.shared.after_turn()
    assert not [op for op in ops if op[0] == JOURNAL_DEMAND]  # its queue is full enough
    for _ in range(3):
        handle = w.request("w", T.GRAB_JOB)[0][1]
        w.send("w", T.WORK_COMPLETE, handle, b"")
    w.send("w", T.GRAB_JOB)
    w.send("w", T.PRE_SLEEP)
    w.engine.shared.after_turn()
    assert ops[-1] == (JOURNAL_DEMAND, 0, {b"f": PER_WORKER})


def test_a_claimed_row_that_coalesces_here_is_kept_or_given_back_never_deleted():
    w, ops = shared_world()
    w.connect("c")
    w.send("c", T.SUBMIT_JOB, b"f", b"fg", b"x")
    w.engine.take_over(StoredJob(5, b"fg", b"f", 1, b"x", 0), b"H:o/1:5", 0)
    assert w.engine.jobs[b"H:test/3:1"].queue_id == 5  # the foreground job keeps the row
    w.send("c", T.SUBMIT_JOB_BG, b"f", b"bg", b"y")  # its row is on its way
    w.engine.take_over(StoredJob(6, b"bg", b"f", 1, b"y", 0), b"H:o/1:6", 0)
    assert (JOURNAL_RELEASE, [6]) in ops
    assert not [op for op in ops if op[0] == JOURNAL_DONE]


def test_a_foreground_client_of_a_job_handed_over_still_gets_its_result():
    w, ops = shared_world()
    w.connect("c")
    w.send("c", T.SUBMIT_JOB_BG, b"f", b"u", b"x")
    w.send("c", T.SUBMIT_JOB, b"f", b"u", b"x")  # coalesces onto it before its row commits
    committed(w, ops)
    w.worker("w", b"f")
    handle = w.request("w", T.GRAB_JOB)[0][1]
    w.send("w", T.WORK_COMPLETE, handle, b"done")
    assert ("WORK_COMPLETE", handle, b"done") in w.recv("c")


def test_a_server_keeps_only_what_its_workers_will_take_soon():
    w, ops = shared_world()
    w.worker("w", b"f")
    w.connect("c")
    for n in range(PER_WORKER + 2):
        w.send("c", T.SUBMIT_JOB_BG, b"f", b"", b"%d" % n)
        if n < PER_WORKER:
            committed(w, ops)
    kept = committed(w, ops)
    assert kept == [False, False]  # the first PER_WORKER stayed, the next ones did not
    assert len(w.engine.jobs) == PER_WORKER
    replies = w.recv("c")
    assert [r[0] for r in replies] == ["JOB_CREATED"] * (PER_WORKER + 2)


def test_a_job_due_later_is_left_to_the_store():
    w, ops = shared_world()
    w.worker("w", b"f")
    w.connect("c")
    w.send("c", T.SUBMIT_JOB_EPOCH, b"f", b"", str(int(w.engine.clock()) + 3600).encode(), b"x")
    assert committed(w, ops) == [False]
    assert not w.engine.jobs


def test_a_submit_that_coalesced_in_the_store_is_told_the_stored_handle():
    w, ops = shared_world()
    w.connect("c")
    w.send("c", T.SUBMIT_JOB_BG, b"f", b"u", b"x")
    [add] = ops
    w.engine.hand_over([(add[1], b"H:other/1:9")])
    w.flush()
    assert w.recv("c") == [("JOB_CREATED", b"H:other/1:9")]
    assert not w.engine.jobs


def test_a_claimed_job_keeps_its_handle_and_its_attempts_count_for_retries():
    w, ops = shared_world(job_retries=2)
    w.engine.take_over(StoredJob(77, b"", b"f", 1, b"claimed", 0), b"H:other/1:5", 1)
    assert list(w.engine.jobs) == [b"H:other/1:5"]
    w.engine.take_over(StoredJob(78, b"", b"f", 1, b"spent", 0), b"H:other/1:6", 2)
    assert list(w.engine.jobs) == [b"H:other/1:5"]  # the second one ran out of retries
    assert (JOURNAL_DONE, 78) in ops
    w.worker("w", b"f")
    assert w.request("w", T.GRAB_JOB) == [("JOB_ASSIGN", b"H:other/1:5", b"f", b"claimed")]
    assert (JOURNAL_START, 77) in ops


def test_a_workers_next_job_waits_until_its_finished_jobs_row_is_deleted():
    w, ops = shared_world()
    w.engine.take_over(StoredJob(1, b"", b"f", 1, b"a", 0), b"H:o/1:1", 0)
    w.engine.take_over(StoredJob(2, b"", b"f", 1, b"b", 0), b"H:o/1:2", 0)
    w.worker("w", b"f")
    assert w.request("w", T.GRAB_JOB)[0][1] == b"H:o/1:1"
    w.send("w", T.WORK_COMPLETE, b"H:o/1:1", b"")
    w.send("w", T.GRAB_JOB)
    assert w.recv("w") == []  # held behind the delete
    [done] = [op for op in ops if op[0] == JOURNAL_DONE]
    assert done[1] == 1
    done[2]()  # the thread committed the DELETE
    w.flush()
    assert w.recv("w") == [("JOB_ASSIGN", b"H:o/1:2", b"f", b"b")]


@pytest.mark.parametrize("engine_class", [Engine, CountingEngine])
def test_give_back_drops_queued_stored_jobs_and_keeps_running_and_foreground_ones(
        engine_class: type[Engine]) -> None:
    """With the monitor's counting engine too: its give_back is the engine's, counted."""
    w, ops = shared_world(engine_class=engine_class)
    for n in range(3):
        w.engine.take_over(StoredJob(10 + n, b"", b"f", 1, b"%d" % n, 0), b"H:o/1:%d" % n, 0)
    w.worker("w", b"f")
    w.request("w", T.GRAB_JOB)  # runs the first
    w.connect("c")
    w.send("c", T.SUBMIT_JOB, b"f", b"", b"foreground")
    assert sorted(w.engine.give_back()) == [11, 12]
    assert sorted(w.engine.jobs) == [b"H:o/1:0", b"H:test/3:1"]


def test_what_the_workers_want_is_told_when_it_changes():
    w, ops = shared_world()
    w.worker("w1", b"f")
    w.worker("w2", b"f")
    w.engine.shared.after_turn()
    assert ops[-1] == (JOURNAL_DEMAND, 0, {b"f": 2 * PER_WORKER})
    count = len(ops)
    w.engine.shared.after_turn()
    assert len(ops) == count  # nothing changed, nothing said
    for n in range(2 * PER_WORKER):
        w.engine.take_over(StoredJob(n + 1, b"", b"f", 1, b"", 0), b"H:o/1:%d" % n, 0)
    w.engine.shared.applied = 1
    w.engine.shared.after_turn()
    assert ops[-1] == (JOURNAL_DEMAND, 1, {b"f": 0})


def test_get_status_and_cancel_of_a_job_held_elsewhere_ask_the_store():
    w, ops = shared_world()
    w.connect("c")
    w.send("c", T.GET_STATUS, b"H:other/1:7")
    w.send("c", T.ECHO_REQ, b"after")
    [ask] = [op for op in ops if op[0] == JOURNAL_ASK]
    assert ask[1] == ("status", (1 << MEMBER_SHIFT) + 7)
    assert w.recv("c") == []  # the echo waits behind the answer
    ask[2]((True, True))
    w.flush()
    assert w.recv("c") == [("STATUS_RES", b"H:other/1:7", b"1", b"1", b"0", b"0"),
                           ("ECHO_RES", b"after")]
    w.admin_line("c", b"cancel job H:other/1:8")
    [cancel] = [op for op in ops if op[0] == JOURNAL_ASK and op[1][0] == "cancel"]
    cancel[2](False)
    w.flush()
    assert w.recv_raw("c") == UNKNOWN_JOB
    assert w.admin("c", b"cancel job not-shared") == UNKNOWN_JOB


@given(st.binary(max_size=40))
def test_row_id_never_fails_on_any_handle(handle):
    w, _ops = shared_world()
    row = w.engine.shared.row_id(handle)
    assert row is None or 0 <= row < 1 << 63


@given(st.integers(1, (1 << 23) - 1), st.integers(1, (1 << MEMBER_SHIFT) - 1),
       st.binary(max_size=20).filter(lambda b: b":" not in b and b"/" not in b))
def test_row_id_reads_every_shared_handle(member, number, host):
    w, _ops = shared_world()
    assert w.engine.shared.row_id(b"H:%s/%d:%d" % (host, member, number)) == (
        (member << MEMBER_SHIFT) + number)


def test_a_maxqueue_caps_what_it_claims():
    w, ops = shared_world()
    w.worker("w", b"f")
    w.connect("a")
    w.admin("a", b"maxqueue f 1")
    w.engine.shared.after_turn()
    assert ops[-1] == (JOURNAL_DEMAND, 0, {b"f": 1})
