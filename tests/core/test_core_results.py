"""WORK_* relaying, exceptions, JOB_NOT_FOUND, GET_STATUS(_UNIQUE), ECHO, SET_CLIENT_ID,
OPTION_REQ and packets the server does not expect."""

from __future__ import annotations

import pytest

from gearmand_py.protocol.packets import ARG_SPECS, PacketType as T
from tests.core.harness import World

NOT_FOUND_DATA = ("ERROR", b"JOB_NOT_FOUND", b"Job does not exist on server")
NOT_FOUND_RESULT = ("ERROR", b"JOB_NOT_FOUND", b"Job given in work result not found")
NOT_FOUND_EXCEPTION = ("ERROR", b"JOB_NOT_FOUND",
                       b"An exception was received for a job that does not exist")


def running_job(w: World, clients=("c",), unique=b"u", data=b"data", worker="w") -> bytes:
    """Submit a foreground job from each client (coalesced on ``unique``) and let ``worker``
    grab it; returns the handle."""
    h = None
    for c in clients:
        got = w.submit(c, b"f", unique, data)
        assert h is None or got == h
        h = got
    if worker not in w.peers:
        w.worker(worker, b"f")
    assert w.grab(worker)[:2] == ("JOB_ASSIGN", h)
    return h


# -- relaying --------------------------------------------------------------------------------

@pytest.mark.parametrize("ptype", [T.WORK_DATA, T.WORK_WARNING], ids=lambda t: T(t).name)
def test_work_data_and_warning_reach_every_attached_client(ptype):
    w = World()
    h = running_job(w, ("c1", "c2"))
    assert w.request("w", ptype, h, b"part\0with nul") == []
    name = T(ptype).name
    assert w.recv("c1") == [(name, h, b"part\0with nul")]
    assert w.recv("c2") == [(name, h, b"part\0with nul")]


def test_work_status_is_relayed_byte_for_byte():
    w = World()
    h = running_job(w, ("c1", "c2"))
    w.send("w", T.WORK_STATUS, h, b"01", b"4x")
    assert w.recv("c1") == [("WORK_STATUS", h, b"01", b"4x")]
    assert w.recv("c2") == [("WORK_STATUS", h, b"01", b"4x")]


def test_work_status_without_denominator_is_ignored_like_gearmand():
    # Perl's Gearman::Worker sends HANDLE\0NUMERATOR; an ERROR reply would kill that worker.
    w = World()
    h = running_job(w, ("c1",))
    assert w.request("w", T.WORK_STATUS, h, b"3") == []
    assert w.recv("c1") == []
    w.send("c1", T.GET_STATUS, h)
    assert w.recv("c1") == [("STATUS_RES", h, b"1", b"1", b"0", b"0")]
    w.send("w", T.WORK_COMPLETE, h, b"done")  # the worker goes on as usual
    assert w.recv("c1") == [("WORK_COMPLETE", h, b"done")]


def test_work_status_with_no_nul_at_all_is_an_invalid_packet():
    w = World()
    h = running_job(w, ("c1",))
    assert w.request("w", T.WORK_STATUS, h) == [
        ("ERROR", b"INVALID_PACKET", b"Packet has too few arguments")]


def test_work_complete_reaches_every_attached_client():
    w = World()
    h = running_job(w, ("c1", "c2"))
    assert w.request("w", T.WORK_COMPLETE, h, b"done") == []
    assert w.recv("c1") == [("WORK_COMPLETE", h, b"done")]
    assert w.recv("c2") == [("WORK_COMPLETE", h, b"done")]


def test_work_fail_reaches_every_attached_client():
    w = World()
    h = running_job(w, ("c1", "c2"))
    assert w.request("w", T.WORK_FAIL, h) == []
    assert w.recv("c1") == [("WORK_FAIL", h)]
    assert w.recv("c2") == [("WORK_FAIL", h)]


def test_work_fail_forwards_the_handle_bytes_exactly_as_sent():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_FAIL, h + b"\0")
    assert w.recv_raw("c") == b"\0RES" + bytes([0, 0, 0, 14]) + (len(h) + 1).to_bytes(4, "big") \
        + h + b"\0"


def test_results_are_relayed_in_order():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_STATUS, h, b"1", b"4")
    w.send("w", T.WORK_DATA, h, b"d")
    w.send("w", T.WORK_WARNING, h, b"warn")
    w.send("w", T.WORK_COMPLETE, h, b"done")
    assert w.recv("c") == [("WORK_STATUS", h, b"1", b"4"), ("WORK_DATA", h, b"d"),
                           ("WORK_WARNING", h, b"warn"), ("WORK_COMPLETE", h, b"done")]


def test_results_go_only_to_the_jobs_own_clients():
    w = World()
    h1 = w.submit("c1", b"f", b"", b"one")
    w.submit("c2", b"f", b"", b"two")
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_COMPLETE, h1, b"done")
    assert w.recv("c1") == [("WORK_COMPLETE", h1, b"done")]
    assert w.recv("c2") == []


def test_completed_job_is_forgotten():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_COMPLETE, h, b"done")
    w.recv("c")
    assert w.request("w", T.WORK_COMPLETE, h, b"again") == [NOT_FOUND_RESULT]
    w.connect("o")
    assert w.request("o", T.GET_STATUS, h) == [("STATUS_RES", h, b"0", b"0", b"0", b"0")]


def test_worker_can_take_another_job_after_completing():
    w = World()
    h = running_job(w)
    w.submit("c", b"f", b"", b"second")
    w.send("w", T.WORK_COMPLETE, h, b"")
    assert w.drain("w") == [b"second"]


# -- exceptions ------------------------------------------------------------------------------

def test_work_exception_goes_to_clients_with_the_exceptions_option_and_fail_to_others():
    w = World()
    w.connect("c2")
    assert w.request("c2", T.OPTION_REQ, b"exceptions") == [("OPTION_RES", b"exceptions")]
    h = running_job(w, ("c1", "c2"))
    assert w.request("w", T.WORK_EXCEPTION, h, b"boom") == []
    assert w.recv_raw("c1") == b"\0RES" + bytes([0, 0, 0, 14]) + (len(h) + 1).to_bytes(4, "big") \
        + h + b"\0"
    assert w.recv("c2") == [("WORK_EXCEPTION", h, b"boom")]


def test_work_exception_without_the_option_is_work_fail_with_trailing_nul():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_EXCEPTION, h, b"boom")
    assert w.recv("c") == [("WORK_FAIL", h + b"\0")]


def test_exceptions_engine_option_makes_every_client_get_work_exception():
    w = World(exceptions=True)
    h = running_job(w)
    w.send("w", T.WORK_EXCEPTION, h, b"boom")
    assert w.recv("c") == [("WORK_EXCEPTION", h, b"boom")]


def test_work_exception_ends_the_job():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_EXCEPTION, h, b"boom")
    w.recv("c")
    assert w.request("w", T.WORK_COMPLETE, h, b"") == [NOT_FOUND_RESULT]


# -- JOB_NOT_FOUND ---------------------------------------------------------------------------

WORK_PACKETS = [
    (T.WORK_DATA, (b"d",), NOT_FOUND_DATA),
    (T.WORK_WARNING, (b"d",), NOT_FOUND_DATA),
    (T.WORK_STATUS, (b"1", b"2"), NOT_FOUND_RESULT),
    (T.WORK_COMPLETE, (b"d",), NOT_FOUND_RESULT),
    (T.WORK_FAIL, (), NOT_FOUND_RESULT),
    (T.WORK_EXCEPTION, (b"d",), NOT_FOUND_EXCEPTION),
]
WORK_IDS = [T(p[0]).name for p in WORK_PACKETS]


@pytest.mark.parametrize("ptype, rest, error", WORK_PACKETS, ids=WORK_IDS)
def test_work_packet_for_an_unknown_handle_is_job_not_found(ptype, rest, error):
    w = World()
    w.worker("w", b"f")
    assert w.request("w", ptype, b"H:test:99", *rest) == [error]


@pytest.mark.parametrize("ptype, rest, error", WORK_PACKETS, ids=WORK_IDS)
def test_work_packet_for_another_workers_job_is_job_not_found(ptype, rest, error):
    w = World()
    h = running_job(w, worker="owner")
    w.worker("thief", b"f")
    assert w.request("thief", ptype, h, *rest) == [error]
    assert w.recv("c") == []


@pytest.mark.parametrize("ptype, rest, error", WORK_PACKETS, ids=WORK_IDS)
def test_work_packet_for_a_queued_job_is_job_not_found(ptype, rest, error):
    w = World()
    h = w.submit("c", b"f", b"", b"x")
    w.worker("w", b"f")
    assert w.request("w", ptype, h, *rest) == [error]
    assert w.recv("c") == []


def test_job_not_found_leaves_the_connection_usable():
    w = World()
    w.worker("w", b"f")
    w.request("w", T.WORK_COMPLETE, b"nope", b"")
    assert w.request("w", T.ECHO_REQ, b"still here") == [("ECHO_RES", b"still here")]


def test_rejected_work_packet_does_not_disturb_the_real_owner():
    w = World()
    h = running_job(w, worker="owner")
    w.worker("thief", b"f")
    w.request("thief", T.WORK_COMPLETE, h, b"stolen")
    w.send("owner", T.WORK_COMPLETE, h, b"real")
    assert w.recv("c") == [("WORK_COMPLETE", h, b"real")]


# -- GET_STATUS ------------------------------------------------------------------------------

def test_get_status_of_an_unknown_handle_is_all_zeros():
    w = World()
    w.connect("c")
    assert w.request("c", T.GET_STATUS, b"H:nosuch:1") == [
        ("STATUS_RES", b"H:nosuch:1", b"0", b"0", b"0", b"0")]


def test_get_status_of_a_queued_job():
    w = World()
    h = w.submit("c", b"f", ptype=T.SUBMIT_JOB_BG)
    assert w.request("c", T.GET_STATUS, h) == [("STATUS_RES", h, b"1", b"0", b"0", b"0")]


def test_get_status_of_a_running_job_before_any_work_status():
    w = World()
    h = running_job(w)
    assert w.request("c", T.GET_STATUS, h) == [("STATUS_RES", h, b"1", b"1", b"0", b"0")]


def test_get_status_of_a_running_job_reports_work_status_numbers_from_any_connection():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_STATUS, h, b"1", b"4")
    w.recv("c")
    w.connect("other")
    assert w.request("other", T.GET_STATUS, h) == [("STATUS_RES", h, b"1", b"1", b"1", b"4")]


def test_get_status_numbers_are_parsed_like_atoi():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_STATUS, h, b"07abc", b"-1")
    w.recv("c")
    assert w.request("c", T.GET_STATUS, h) == [
        ("STATUS_RES", h, b"1", b"1", b"7", b"4294967295")]


def test_get_status_is_reset_after_a_requeue():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_STATUS, h, b"3", b"4")
    w.recv("c")
    w.disconnect("w")
    assert w.request("c", T.GET_STATUS, h) == [("STATUS_RES", h, b"1", b"0", b"0", b"0")]


def test_background_job_keeps_its_status_while_running():
    w = World()
    h = w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_STATUS, h, b"5", b"10")
    assert w.recv("c") == []
    assert w.request("c", T.GET_STATUS, h) == [("STATUS_RES", h, b"1", b"1", b"5", b"10")]


# -- GET_STATUS_UNIQUE ----------------------------------------------------------------------

def test_get_status_unique_of_an_unknown_unique_is_all_zeros():
    w = World()
    w.connect("c")
    assert w.request("c", T.GET_STATUS_UNIQUE, b"nou") == [
        ("STATUS_RES_UNIQUE", b"nou", b"0", b"0", b"0", b"0", b"0")]


def test_get_status_unique_of_a_queued_background_job_has_no_clients():
    w = World()
    w.submit("c", b"f", b"u1", b"payload", T.SUBMIT_JOB_BG)
    assert w.request("c", T.GET_STATUS_UNIQUE, b"u1") == [
        ("STATUS_RES_UNIQUE", b"u1", b"1", b"0", b"0", b"0", b"0")]


def test_get_status_unique_counts_attached_foreground_clients():
    # gearmand always reports 0 here; gearmand-py reports the real count.
    w = World()
    w.submit("c1", b"f", b"u", b"x")
    w.submit("c2", b"f", b"u", b"x")
    w.connect("o")
    assert w.request("o", T.GET_STATUS_UNIQUE, b"u") == [
        ("STATUS_RES_UNIQUE", b"u", b"1", b"0", b"0", b"0", b"2")]


def test_get_status_unique_of_a_running_job_with_status():
    w = World()
    h = running_job(w, ("c1",), unique=b"ru")
    w.send("w", T.WORK_STATUS, h, b"2", b"3")
    w.recv("c1")
    w.connect("o")
    assert w.request("o", T.GET_STATUS_UNIQUE, b"ru") == [
        ("STATUS_RES_UNIQUE", b"ru", b"1", b"1", b"2", b"3", b"1")]


def test_get_status_unique_client_count_drops_when_a_client_leaves():
    w = World()
    running_job(w, ("c1", "c2"))
    w.disconnect("c1")
    w.connect("o")
    assert w.request("o", T.GET_STATUS_UNIQUE, b"u") == [
        ("STATUS_RES_UNIQUE", b"u", b"1", b"1", b"0", b"0", b"1")]


def test_get_status_unique_forgets_a_finished_job():
    w = World()
    h = running_job(w)
    w.send("w", T.WORK_COMPLETE, h, b"")
    w.recv("c")
    assert w.request("c", T.GET_STATUS_UNIQUE, b"u") == [
        ("STATUS_RES_UNIQUE", b"u", b"0", b"0", b"0", b"0", b"0")]


def test_get_status_unique_does_not_find_dash_jobs():
    w = World()
    w.submit("c", b"f", b"-", b"data", T.SUBMIT_JOB_BG)
    assert w.request("c", T.GET_STATUS_UNIQUE, b"-") == [
        ("STATUS_RES_UNIQUE", b"-", b"0", b"0", b"0", b"0", b"0")]


# -- ECHO, SET_CLIENT_ID, OPTION_REQ -----------------------------------------------------------

@pytest.mark.parametrize("data", [b"hello\0world", b""], ids=["with-nul", "empty"])
def test_echo_returns_the_data(data):
    w = World()
    w.connect("c")
    assert w.request("c", T.ECHO_REQ, data) == [("ECHO_RES", data)]


def test_set_client_id_sends_no_reply_and_shows_in_workers():
    w = World()
    w.connect("w")
    assert w.request("w", T.SET_CLIENT_ID, b"worker-1") == []
    w.connect("a")
    lines = w.admin("a", b"workers").split(b"\n")
    assert b"%d 127.0.0.1 worker-1 :" % w.fd("w") in lines


def test_set_client_id_is_truncated_to_127_bytes():
    w = World()
    w.connect("w")
    w.send("w", T.SET_CLIENT_ID, b"x" * 200)
    w.connect("a")
    lines = w.admin("a", b"workers").split(b"\n")
    assert b"%d 127.0.0.1 %s :" % (w.fd("w"), b"x" * 127) in lines


@pytest.mark.parametrize("name", [b"exceptions", b"EXCEPTIONS", b"Exceptions"])
def test_option_req_exceptions_echoes_the_name_as_sent(name):
    w = World()
    w.connect("c")
    assert w.request("c", T.OPTION_REQ, name) == [("OPTION_RES", name)]


def test_option_req_in_uppercase_enables_exceptions():
    w = World()
    w.connect("c")
    w.request("c", T.OPTION_REQ, b"EXCEPTIONS")
    h = running_job(w)
    w.send("w", T.WORK_EXCEPTION, h, b"boom")
    assert w.recv("c") == [("WORK_EXCEPTION", h, b"boom")]


@pytest.mark.parametrize("name", [b"foo", b"exceptionsx", b""])
def test_unknown_option_is_an_error(name):
    w = World()
    w.connect("c")
    assert w.request("c", T.OPTION_REQ, name) == [
        ("ERROR", b"UNKNOWN_OPTION", b"Server does not recognize given option")]


# -- packets the server does not expect ----------------------------------------------------

NOT_EXPECTED = [T.UNUSED, T.NOOP, T.JOB_CREATED, T.NO_JOB, T.JOB_ASSIGN, T.ECHO_RES, T.ERROR,
                T.STATUS_RES, T.ALL_YOURS, T.OPTION_RES, T.JOB_ASSIGN_UNIQ, T.SUBMIT_JOB_SCHED,
                T.JOB_ASSIGN_ALL, T.STATUS_RES_UNIQUE]


@pytest.mark.parametrize("ptype", NOT_EXPECTED, ids=lambda t: T(t).name)
def test_unexpected_packet_type_is_invalid_command_and_connection_stays_open(ptype):
    w = World()
    w.connect("c")
    args = [b"x"] * ARG_SPECS[ptype].fields
    assert w.request("c", ptype, *args) == [
        ("ERROR", b"INVALID_COMMAND", b"Command not expected")]
    assert w.request("c", T.ECHO_REQ, b"ok") == [("ECHO_RES", b"ok")]
    assert "c" not in w.closed


def test_submit_job_sched_creates_no_job():
    w = World()
    w.connect("c")
    w.request("c", T.SUBMIT_JOB_SCHED, b"f", b"u", b"*", b"*", b"*", b"*", b"*", b"data")
    w.worker("w", b"f")
    assert w.grab("w") == ("NO_JOB",)


def test_response_magic_on_a_request_is_invalid_magic():
    w = World()
    w.connect("c")
    w.raw("c", b"\0RES" + (16).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"hi")
    assert w.recv("c") == [("ERROR", b"INVALID_MAGIC", b"Request magic expected")]
    assert w.request("c", T.ECHO_REQ, b"ok") == [("ECHO_RES", b"ok")]
