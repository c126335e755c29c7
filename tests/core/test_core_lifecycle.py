"""Connections going away (workers mid-job, clients waiting), job retries, fatal input and
maxqueue limits."""

from __future__ import annotations

import pytest

from gearmand_py.protocol.packets import PacketType as T
from queue_backends.base import StoredJob
from tests.core.harness import World, handle


# -- worker goes away mid-job ---------------------------------------------------------------

def test_worker_disconnect_requeues_its_job_for_another_worker():
    w = World()
    h = w.submit("c", b"f", b"u", b"data")
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    w.worker("w2", b"f")
    assert w.grab("w2", T.GRAB_JOB_UNIQ) == ("JOB_ASSIGN_UNIQ", h, b"f", b"u", b"data")


def test_client_is_not_told_about_a_requeue():
    w = World()
    w.submit("c", b"f")
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    assert w.recv("c") == []


def test_requeued_job_still_delivers_results_to_its_client():
    w = World()
    h = w.submit("c", b"f")
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    w.worker("w2", b"f")
    w.grab("w2")
    w.send("w2", T.WORK_COMPLETE, h, b"done")
    assert w.recv("c") == [("WORK_COMPLETE", h, b"done")]


def test_requeued_job_goes_to_the_tail_of_its_queue():
    w = World()
    w.submit("c", b"f", b"", b"A")
    w.submit("c", b"f", b"", b"B")
    w.worker("w1", b"f")
    assert w.grab_data("w1") == b"A"
    w.disconnect("w1")
    w.worker("w2", b"f")
    assert w.drain("w2") == [b"B", b"A"]


def test_requeue_order_is_most_recently_assigned_first():
    w = World()
    for data in (b"A", b"B", b"C"):
        w.submit("c", b"f", b"", data)
    w.worker("w1", b"f")
    assert [w.grab_data("w1") for _ in range(3)] == [b"A", b"B", b"C"]
    w.disconnect("w1")
    w.worker("w2", b"f")
    assert w.drain("w2") == [b"C", b"B", b"A"]


def test_requeued_job_keeps_its_priority():
    w = World()
    w.submit("c", b"f", b"", b"high", T.SUBMIT_JOB_HIGH)
    w.worker("w1", b"f")
    w.grab("w1")
    w.submit("c", b"f", b"", b"normal", T.SUBMIT_JOB)
    w.disconnect("w1")
    w.worker("w2", b"f")
    assert w.drain("w2") == [b"high", b"normal"]


def test_sleeping_workers_get_a_noop_when_a_job_is_requeued():
    w = World()
    w.submit("c", b"f")
    w.worker("w1", b"f")
    w.grab("w1")
    w.worker("w2", b"f")
    assert w.grab("w2") == ("NO_JOB",)
    w.send("w2", T.PRE_SLEEP)
    assert w.recv("w2") == []
    w.disconnect("w1")
    assert w.recv("w2") == [("NOOP",)]


def test_cant_do_of_a_running_function_requeues_the_job():
    w = World()
    h = w.submit("c", b"f", b"", b"data")
    w.worker("w1", b"f")
    w.grab("w1")
    w.send("w1", T.CANT_DO, b"f")
    w.worker("w2", b"f")
    assert w.grab("w2") == ("JOB_ASSIGN", h, b"f", b"data")


def test_reset_abilities_requeues_running_jobs():
    w = World()
    h = w.submit("c", b"f", b"", b"data")
    w.worker("w1", b"f")
    w.grab("w1")
    w.send("w1", T.RESET_ABILITIES)
    w.worker("w2", b"f")
    assert w.grab("w2") == ("JOB_ASSIGN", h, b"f", b"data")


def test_results_from_the_old_worker_after_a_requeue_are_job_not_found():
    w = World()
    h = w.submit("c", b"f")
    w.worker("w1", b"f")
    w.grab("w1")
    w.send("w1", T.CANT_DO, b"f")
    assert w.request("w1", T.WORK_COMPLETE, h, b"late") == [
        ("ERROR", b"JOB_NOT_FOUND", b"Job given in work result not found")]
    assert w.recv("c") == []


def test_cant_do_of_another_function_keeps_the_running_job():
    w = World()
    h = w.submit("c", b"f")
    w.worker("w1", b"f", b"g")
    w.grab("w1")
    w.send("w1", T.CANT_DO, b"g")
    w.send("w1", T.WORK_COMPLETE, h, b"done")
    assert w.recv("w1") == []
    assert w.recv("c") == [("WORK_COMPLETE", h, b"done")]


# -- job_retries ------------------------------------------------------------------------------

def test_job_retries_2_drops_the_job_on_the_second_failed_attempt():
    w = World(job_retries=2)
    h = w.submit("c", b"f", b"ru")
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    assert w.recv("c") == []
    w.worker("w2", b"f")
    assert w.grab("w2")[:2] == ("JOB_ASSIGN", h)
    w.disconnect("w2")
    assert w.recv("c") == [("WORK_FAIL", h)]


def test_job_dropped_by_retries_is_gone():
    w = World(job_retries=1)
    h = w.submit("c", b"f", b"ru")
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    assert w.recv("c") == [("WORK_FAIL", h)]
    w.worker("w2", b"f")
    assert w.grab("w2") == ("NO_JOB",)
    assert w.request("c", T.GET_STATUS, h) == [("STATUS_RES", h, b"0", b"0", b"0", b"0")]


def test_job_dropped_by_retries_fails_every_attached_client():
    w = World(job_retries=1)
    h = w.submit("c1", b"f", b"ru")
    w.submit("c2", b"f", b"ru")
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    assert w.recv("c1") == [("WORK_FAIL", h)]
    assert w.recv("c2") == [("WORK_FAIL", h)]


def test_job_dropped_by_retries_frees_its_unique():
    w = World(job_retries=1)
    w.submit("c", b"f", b"ru", b"", T.SUBMIT_JOB_BG)
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    assert w.submit("c", b"f", b"ru", b"", T.SUBMIT_JOB_BG) == handle(2)


def test_job_retries_0_means_unlimited():
    w = World(job_retries=0)
    h = w.submit("c", b"f")
    for i in range(300):
        name = "w%d" % i
        w.worker(name, b"f")
        assert w.grab(name)[:2] == ("JOB_ASSIGN", h)
        w.disconnect(name)
    assert w.recv("c") == []


def test_work_fail_is_final_and_not_retried():
    w = World(job_retries=3)
    h = w.submit("c", b"f")
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_FAIL, h)
    assert w.recv("c") == [("WORK_FAIL", h)]
    assert w.grab("w") == ("NO_JOB",)


# -- client goes away ------------------------------------------------------------------------

def test_client_disconnect_abandons_its_queued_job():
    w = World()
    w.submit("c", b"f", b"", b"abandoned")
    w.disconnect("c")
    w.worker("w", b"f")
    assert w.grab("w") == ("NO_JOB",)


def test_worker_gets_the_next_job_after_an_abandoned_one():
    w = World()
    w.submit("gone", b"f", b"", b"abandoned")
    w.submit("stays", b"f", b"", b"wanted")
    w.disconnect("gone")
    w.worker("w", b"f")
    assert w.drain("w") == [b"wanted"]


def test_abandoned_job_is_forgotten_once_skipped():
    w = World()
    h = w.submit("gone", b"f", b"", b"abandoned")
    w.disconnect("gone")
    w.worker("w", b"f")
    w.grab("w")
    w.connect("o")
    assert w.request("o", T.GET_STATUS, h) == [("STATUS_RES", h, b"0", b"0", b"0", b"0")]


def test_queued_job_survives_while_one_of_its_clients_remains():
    w = World()
    h = w.submit("c1", b"f", b"u", b"data")
    w.submit("c2", b"f", b"u", b"data")
    w.disconnect("c1")
    w.worker("w", b"f")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"f", b"data")
    w.send("w", T.WORK_COMPLETE, h, b"done")
    assert w.recv("c2") == [("WORK_COMPLETE", h, b"done")]


def test_running_job_keeps_running_after_its_client_leaves_and_results_go_nowhere():
    w = World()
    h = w.submit("c", b"f", b"", b"data")
    w.worker("w", b"f")
    w.grab("w")
    w.disconnect("c")
    for ptype, args in [(T.WORK_DATA, (b"d",)), (T.WORK_WARNING, (b"w",)),
                        (T.WORK_STATUS, (b"1", b"2")), (T.WORK_COMPLETE, (b"done",))]:
        assert w.request("w", ptype, h, *args) == []
    assert w.grab("w") == ("NO_JOB",)


def test_running_job_of_a_departed_client_still_reports_status():
    w = World()
    h = w.submit("c", b"f")
    w.worker("w", b"f")
    w.grab("w")
    w.disconnect("c")
    w.send("w", T.WORK_STATUS, h, b"1", b"2")
    w.connect("o")
    assert w.request("o", T.GET_STATUS, h) == [("STATUS_RES", h, b"1", b"1", b"1", b"2")]


def test_background_job_is_not_abandoned_when_a_coalesced_foreground_client_leaves():
    # gearmand 1.1.20 drops such a job (a bug this server does not replicate).
    w = World()
    h = w.submit("bg", b"f", b"u", b"payload", T.SUBMIT_JOB_BG)
    w.submit("fg", b"f", b"u", b"other")
    w.disconnect("fg")
    w.worker("w", b"f")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"f", b"payload")


def test_new_foreground_submit_revives_an_abandoned_queued_job():
    w = World()
    h = w.submit("gone", b"f", b"u", b"data")
    w.disconnect("gone")
    assert w.submit("c", b"f", b"u", b"data") == h
    w.worker("w", b"f")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"f", b"data")
    w.send("w", T.WORK_COMPLETE, h, b"done")
    assert w.recv("c") == [("WORK_COMPLETE", h, b"done")]


def test_abandoned_job_sends_no_noop_on_pre_sleep():
    w = World()
    w.submit("gone", b"f")
    w.disconnect("gone")
    w.worker("w", b"f")
    assert w.request("w", T.PRE_SLEEP) == []


# -- fatal input -----------------------------------------------------------------------------

def test_bad_magic_closes_the_connection_without_a_reply():
    w = World()
    w.connect("c")
    w.raw("c", b"\0XYZ" + bytes(8))
    assert w.recv_raw("c") == b""
    assert "c" in w.closed


@pytest.mark.parametrize("ptype", [0, 43, 1000])
def test_invalid_packet_type_closes_the_connection(ptype):
    w = World()
    w.connect("c")
    w.raw("c", b"\0REQ" + ptype.to_bytes(4, "big") + bytes(4))
    assert w.recv_raw("c") == b""
    assert "c" in w.closed


def test_fatal_with_an_error_sends_the_error_then_closes():
    w = World(max_packet_size=16)
    w.connect("c")
    w.send("c", T.ECHO_REQ, b"x" * 17)
    assert w.recv("c") == [("ERROR", b"ARGUMENT_TOO_LARGE", b"Packet too large")]
    assert "c" in w.closed


def test_output_before_a_fatal_event_is_still_delivered():
    w = World()
    w.connect("c")
    w.raw("c", b"\0REQ" + (16).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"hi"
          + b"\0XYZ" + bytes(8))
    assert w.recv("c") == [("ECHO_RES", b"hi")]
    assert "c" in w.closed


def test_too_many_admin_tokens_closes_the_connection():
    w = World()
    w.connect("a")
    assert w.admin("a", b"a b c d e f") == b""
    assert "a" in w.closed


def test_worker_closed_by_a_fatal_event_has_its_job_requeued():
    w = World()
    h = w.submit("c", b"f", b"", b"data")
    w.worker("w1", b"f")
    w.grab("w1")
    w.raw("w1", b"\0XYZ" + bytes(8))
    assert "w1" in w.closed
    w.worker("w2", b"f")
    assert w.grab("w2") == ("JOB_ASSIGN", h, b"f", b"data")


# -- maxqueue --------------------------------------------------------------------------------

QUEUE_FULL = ("ERROR", b"QUEUE_ERROR", b"Job queue is full")


def limited(limits, function=b"mq", **options) -> World:
    w = World(**options)
    w.engine.function(function).max_queue = list(limits)
    w.connect("c")
    return w


def test_maxqueue_refuses_a_job_beyond_the_limit():
    w = limited([2, 2, 2])
    w.submit("c", b"mq", b"u0", b"", T.SUBMIT_JOB_BG)
    w.submit("c", b"mq", b"u1", b"", T.SUBMIT_JOB_BG)
    assert w.request("c", T.SUBMIT_JOB_BG, b"mq", b"u2", b"") == [QUEUE_FULL]


@pytest.mark.parametrize("ptype", [T.SUBMIT_JOB, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_LOW_BG],
                         ids=lambda t: T(t).name)
def test_maxqueue_applies_to_every_submit_kind(ptype):
    w = limited([1, 1, 1])
    w.submit("c", b"mq", b"", b"", T.SUBMIT_JOB_BG)
    assert w.request("c", ptype, b"mq", b"", b"") == [QUEUE_FULL]


def test_maxqueue_counts_running_jobs():
    w = limited([2, 2, 2])
    w.submit("c", b"mq", b"u0", b"", T.SUBMIT_JOB_BG)
    w.submit("c", b"mq", b"u1", b"", T.SUBMIT_JOB_BG)
    w.worker("w", b"mq")
    w.grab("w")
    assert w.request("c", T.SUBMIT_JOB_BG, b"mq", b"u2", b"") == [QUEUE_FULL]


def test_maxqueue_counts_jobs_of_every_priority():
    w = limited([0, 2, 0])
    w.submit("c", b"mq", b"", b"", T.SUBMIT_JOB_HIGH_BG)
    w.submit("c", b"mq", b"", b"", T.SUBMIT_JOB_LOW_BG)
    assert w.request("c", T.SUBMIT_JOB_BG, b"mq", b"", b"") == [QUEUE_FULL]


def test_maxqueue_is_checked_after_coalescing():
    w = limited([2, 2, 2])
    h = w.submit("c", b"mq", b"u0", b"", T.SUBMIT_JOB_BG)
    w.submit("c", b"mq", b"u1", b"", T.SUBMIT_JOB_BG)
    assert w.request("c", T.SUBMIT_JOB_BG, b"mq", b"u0", b"") == [("JOB_CREATED", h)]
    assert w.request("c", T.SUBMIT_JOB, b"mq", b"u0", b"") == [("JOB_CREATED", h)]


def test_maxqueue_threshold_is_chosen_by_the_new_jobs_priority():
    w = limited([0, 1, 0])
    w.submit("c", b"mq", b"", b"", T.SUBMIT_JOB_BG)
    assert w.request("c", T.SUBMIT_JOB_BG, b"mq", b"", b"") == [QUEUE_FULL]
    assert w.request("c", T.SUBMIT_JOB_HIGH_BG, b"mq", b"", b"") == [("JOB_CREATED", handle(2))]
    assert w.request("c", T.SUBMIT_JOB_LOW_BG, b"mq", b"", b"") == [("JOB_CREATED", handle(3))]


def test_maxqueue_frees_room_when_a_job_completes():
    w = limited([1, 1, 1])
    h = w.submit("c", b"mq", b"", b"", T.SUBMIT_JOB_BG)
    w.worker("w", b"mq")
    w.grab("w")
    w.send("w", T.WORK_COMPLETE, h, b"")
    assert w.request("c", T.SUBMIT_JOB_BG, b"mq", b"", b"") == [("JOB_CREATED", handle(2))]


def test_maxqueue_refusal_creates_no_job_and_uses_no_handle():
    w = limited([1, 1, 1])
    w.submit("c", b"mq", b"", b"first", T.SUBMIT_JOB_BG)
    w.request("c", T.SUBMIT_JOB, b"mq", b"", b"refused")
    w.worker("w", b"mq")
    assert w.drain("w") == [b"first"]
    assert w.submit("c", b"other", ptype=T.SUBMIT_JOB_BG) == handle(2)


def test_maxqueue_is_per_function():
    w = limited([1, 1, 1])
    w.submit("c", b"mq", b"", b"", T.SUBMIT_JOB_BG)
    assert w.request("c", T.SUBMIT_JOB_BG, b"free", b"", b"") == [("JOB_CREATED", handle(2))]


def test_maxqueue_zero_is_unlimited():
    w = limited([0, 0, 0])
    for i in range(50):
        assert w.submit("c", b"mq", b"", b"", T.SUBMIT_JOB_BG) == handle(i + 1)


@pytest.mark.parametrize("stored, counts", [(-1, b"1\t0\t0"), (7, b"0\t0\t1")])
def test_a_stored_row_with_a_priority_out_of_range_is_replayed_at_the_nearest_one(
        stored: int, counts: bytes) -> None:
    w = World()
    assert w.engine.restore(StoredJob(1, b"", b"f", stored, b"x", 0))
    w.connect("admin")
    assert w.admin("admin", b"prioritystatus") == b"f\t" + counts + b"\t0\n.\n"
