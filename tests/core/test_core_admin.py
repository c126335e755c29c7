"""The text admin commands the core answers: status, workers, version, getpid, verbose, and
unknown commands."""

from __future__ import annotations

import pytest

from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import PID, VERBOSE, VERSION, World


def status_rows(reply: bytes) -> set[bytes]:
    """The rows of a ``status`` reply (gearmand lists functions in hash order, so as a set)."""
    assert reply.endswith(b"\n.\n") or reply == b".\n", reply
    return set(reply[:-2].splitlines())


# -- status ----------------------------------------------------------------------------------

def test_status_with_no_functions_is_just_the_terminator():
    w = World()
    w.connect("a")
    assert w.admin("a", b"status") == b".\n"


def test_status_counts_queued_plus_running_running_and_workers():
    w = World()
    w.submit("c", b"resize", b"img-1", b"", T.SUBMIT_JOB_HIGH_BG)
    w.submit("c", b"resize", b"img-2", b"", T.SUBMIT_JOB_BG)
    w.submit("c", b"resize", b"", b"", T.SUBMIT_JOB_LOW_BG)
    w.submit("c", b"thumb", b"t-1", b"")
    w.worker("w", b"thumb")
    w.worker("idle", b"resize")
    assert w.grab("w")[0] == "JOB_ASSIGN"
    w.connect("a")
    assert status_rows(w.admin("a", b"status")) == {b"thumb\t1\t1\t1", b"resize\t3\t0\t1"}


def test_status_total_includes_a_running_job():
    w = World()
    w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    w.grab("w")
    w.connect("a")
    assert w.admin("a", b"status") == b"f\t2\t1\t1\n.\n"


def test_status_counts_duplicate_can_dos_as_workers():
    w = World()
    w.worker("w", b"f", b"f")
    w.worker("w2", b"f")
    w.connect("a")
    assert w.admin("a", b"status") == b"f\t0\t0\t3\n.\n"


def test_status_lists_functions_referenced_by_can_do_and_submit():
    w = World()
    w.worker("w", b"byworker")
    w.submit("c", b"bysubmit", b"", b"", T.SUBMIT_JOB_BG)
    w.connect("a")
    assert status_rows(w.admin("a", b"status")) == {b"byworker\t0\t0\t1", b"bysubmit\t1\t0\t0"}


def test_status_keeps_functions_after_their_workers_and_jobs_are_gone():
    w = World()
    h = w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_COMPLETE, h, b"")
    w.disconnect("w")
    w.connect("a")
    assert w.admin("a", b"status") == b"f\t0\t0\t0\n.\n"


def test_status_drops_a_worker_after_cant_do():
    w = World()
    w.worker("w", b"f", b"g")
    w.send("w", T.CANT_DO, b"f")
    w.connect("a")
    assert status_rows(w.admin("a", b"status")) == {b"f\t0\t0\t0", b"g\t0\t0\t1"}


def test_status_after_a_requeue_shows_the_job_queued_again():
    w = World()
    w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    w.worker("w1", b"f")
    w.grab("w1")
    w.disconnect("w1")
    w.connect("a")
    assert w.admin("a", b"status") == b"f\t1\t0\t0\n.\n"


# -- workers ---------------------------------------------------------------------------------

def test_workers_lists_every_connection_newest_first_with_functions_in_reverse_can_do_order():
    w = World()
    w.connect("w")
    w.send("w", T.SET_CLIENT_ID, b"resize-worker-01")
    w.send("w", T.CAN_DO, b"resize")
    w.send("w", T.CAN_DO, b"thumb")
    w.connect("c", ip="10.0.0.7")
    w.connect("a")
    assert w.admin("a", b"workers") == (
        b"%d 127.0.0.1 - :\n" % w.fd("a")
        + b"%d 10.0.0.7 - :\n" % w.fd("c")
        + b"%d 127.0.0.1 resize-worker-01 : thumb resize\n" % w.fd("w")
        + b".\n")


def test_workers_forgets_a_disconnected_connection():
    w = World()
    w.worker("w", b"f")
    w.disconnect("w")
    w.connect("a")
    assert w.admin("a", b"workers") == b"%d 127.0.0.1 - :\n.\n" % w.fd("a")


def test_workers_shows_duplicate_can_dos():
    w = World()
    w.worker("w", b"f", b"f")
    w.connect("a")
    lines = w.admin("a", b"workers").split(b"\n")
    assert b"%d 127.0.0.1 - : f f" % w.fd("w") in lines


def test_workers_after_reset_abilities_shows_no_functions():
    w = World()
    w.worker("w", b"f", b"g")
    w.send("w", T.RESET_ABILITIES)
    w.connect("a")
    lines = w.admin("a", b"workers").split(b"\n")
    assert b"%d 127.0.0.1 - :" % w.fd("w") in lines


def test_workers_after_round_robin_take_shows_the_rotated_order():
    w = World(round_robin=True)
    w.submit("c", b"b", b"", b"", T.SUBMIT_JOB_BG)
    w.worker("w", b"a", b"b")
    w.grab("w")
    w.connect("a")
    lines = w.admin("a", b"workers").split(b"\n")
    assert b"%d 127.0.0.1 - : a b" % w.fd("w") in lines


# -- version, getpid, verbose ------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    (b"version", b"OK " + VERSION + b"\n"),
    (b"getpid", b"OK %d\n" % PID),
    (b"verbose", b"OK " + VERBOSE.encode() + b"\n"),
])
def test_value_commands_reply_ok_value_with_lf(line, expected):
    w = World()
    w.connect("a")
    assert w.admin("a", line) == expected


def test_version_ignores_extra_tokens():
    w = World()
    w.connect("a")
    assert w.admin("a", b"version extra tokens") == b"OK " + VERSION + b"\n"


@pytest.mark.parametrize("line", [b"STATUS", b"Status", b"WORKERS", b"VeRsIoN", b"GETPID",
                                  b"Verbose"])
def test_command_words_are_case_insensitive(line):
    w = World()
    w.connect("a")
    assert w.admin("a", line) == w.admin("a", line.lower())
    assert not w.admin("a", line).startswith(b"ERR")


def test_lf_only_line_ending_works():
    w = World()
    w.connect("a")
    w.raw("a", b"version\n")
    assert w.recv_raw("a") == b"OK " + VERSION + b"\n"


def test_trailing_spaces_are_ignored():
    w = World()
    w.connect("a")
    assert w.admin("a", b"status  ") == b".\n"


def test_commands_can_be_pipelined():
    w = World()
    w.connect("a")
    w.raw("a", b"version\r\ngetpid\r\nstatus\r\n")
    assert w.recv_raw("a") == b"OK " + VERSION + b"\n" + b"OK %d\n" % PID + b".\n"


def test_admin_and_binary_can_be_mixed_on_one_connection():
    w = World()
    w.connect("a")
    w.raw("a", b"version\r\n" + b"\0REQ" + (16).to_bytes(4, "big") + (2).to_bytes(4, "big")
          + b"hi")
    assert w.recv("a") == [("TEXT", b"OK " + VERSION + b"\n"), ("ECHO_RES", b"hi")]


# -- unknown commands ------------------------------------------------------------------------

@pytest.mark.parametrize("line, word", [
    (b"bogus cmd", b"bogus"),
    (b"BoGuS", b"BoGuS"),
    (b"show", b"show"),
    (b"cancel", b"cancel"),
    (b"a b c d e", b"a"),
    (b"", b""),
    (b"  status", b""),
    (b"status\tx", b"status\tx"),
])
def test_unknown_command_is_err_unknown_command_with_the_word_case_preserved(line, word):
    w = World()
    w.connect("a")
    assert w.admin("a", line) == b"ERR UNKNOWN_COMMAND Unknown+server+command" + word + b"\r\n"


def test_connection_stays_open_after_an_unknown_command():
    w = World()
    w.connect("a")
    w.admin("a", b"bogus")
    assert "a" not in w.closed
    assert w.admin("a", b"version") == b"OK " + VERSION + b"\n"


# -- drop function ---------------------------------------------------------------------------

def test_drop_function_refusal_names_what_holds_the_function():
    """Each holder is named: connected workers, running jobs, queued jobs; once nothing holds
    the function, it is dropped."""
    w = World()
    w.connect("a")
    w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    assert w.admin("a", b"drop function f") == b"ERR there are still queued jobs\r\n"
    w.worker("w", b"f")
    assert w.admin("a", b"drop function F") == (
        b"ERR there are still connected workers and queued jobs\r\n")
    w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    first = w.grab("w")[1]
    assert w.admin("a", b"drop function f") == (
        b"ERR there are still connected workers, running jobs and queued jobs\r\n")
    w.send("w", T.WORK_COMPLETE, first, b"")
    second = w.grab("w")[1]
    assert w.admin("a", b"drop function f") == (
        b"ERR there are still connected workers and running jobs\r\n")
    w.send("w", T.WORK_COMPLETE, second, b"")
    w.send("w", T.RESET_ABILITIES)
    assert w.admin("a", b"drop function f") == b"OK\r\n"


def test_drop_function_with_only_a_worker():
    w = World()
    w.connect("a")
    w.worker("w", b"f")
    assert w.admin("a", b"drop function f") == b"ERR there are still connected workers\r\n"
    w.send("w", T.RESET_ABILITIES)
    assert w.admin("a", b"drop function f") == b"OK\r\n"


def test_drop_function_counts_a_scheduled_epoch_job_as_queued():
    w = World()
    w.connect("a")
    w.connect("c")
    w.request("c", T.SUBMIT_JOB_EPOCH, b"e", b"", b"4102444800", b"")
    assert w.admin("a", b"drop function e") == b"ERR there are still queued jobs\r\n"
