"""Job creation: SUBMIT_* variants, handles, unique coalescing and unique size limits."""

from __future__ import annotations

import pytest

from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import World, handle

FOREGROUND = [T.SUBMIT_JOB, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_LOW]
BACKGROUND = [T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH_BG, T.SUBMIT_JOB_LOW_BG]


# -- JOB_CREATED and handles --------------------------------------------------------------------

@pytest.mark.parametrize("ptype", FOREGROUND + BACKGROUND, ids=lambda t: T(t).name)
def test_every_submit_variant_replies_job_created(ptype):
    w = World()
    w.connect("c")
    assert w.request("c", ptype, b"f", b"", b"data") == [("JOB_CREATED", b"H:test:1")]


@pytest.mark.parametrize("ptype", [T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND],
                         ids=lambda t: T(t).name)
def test_reduce_submits_reply_job_created(ptype):
    w = World()
    w.connect("c")
    reply = w.request("c", ptype, b"f", b"u", b"reducer", b"", b"data")
    assert reply == [("JOB_CREATED", b"H:test:1")]


def test_handles_count_up_across_functions():
    w = World()
    assert [w.submit("c", b"f"), w.submit("c", b"g"), w.submit("c", b"f")] == [
        b"H:test:1", b"H:test:2", b"H:test:3"]


def test_job_handle_prefix_option_sets_the_handle_prefix():
    w = World(prefix=b"H:myhost")
    assert w.submit("c", b"f") == b"H:myhost:1"
    assert w.submit("c", b"f") == b"H:myhost:2"


def test_coalescing_does_not_consume_a_handle_number():
    w = World()
    assert w.submit("c", b"f", b"u", ptype=T.SUBMIT_JOB_BG) == handle(1)
    assert w.submit("c", b"f", b"u", ptype=T.SUBMIT_JOB_BG) == handle(1)
    assert w.submit("c", b"f", b"v", ptype=T.SUBMIT_JOB_BG) == handle(2)


def test_submitted_job_is_assigned_with_its_function_and_data():
    w = World()
    h = w.submit("c", b"f", b"", b"payload\0with nul")
    w.worker("w", b"f")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"f", b"payload\0with nul")


@pytest.mark.parametrize("ptype", FOREGROUND, ids=lambda t: T(t).name)
def test_foreground_submitter_receives_the_result(ptype):
    w = World()
    h = w.submit("c", b"f", ptype=ptype)
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_COMPLETE, h, b"result")
    assert w.recv("c") == [("WORK_COMPLETE", h, b"result")]


@pytest.mark.parametrize("ptype", BACKGROUND, ids=lambda t: T(t).name)
def test_background_submitter_receives_no_result(ptype):
    w = World()
    h = w.submit("c", b"f", ptype=ptype)
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_DATA, h, b"partial")
    w.send("w", T.WORK_COMPLETE, h, b"result")
    assert w.recv("c") == []
    assert w.recv("w") == []


# -- functions ------------------------------------------------------------------------------------

def test_function_names_are_case_sensitive():
    w = World()
    w.submit("c", b"f")
    w.worker("w", b"F")
    assert w.grab("w") == ("NO_JOB",)


def test_function_name_in_can_do_is_the_whole_packet_including_nul():
    w = World()
    w.submit("c", b"fn")
    w.worker("w", b"fn\0")
    assert w.grab("w") == ("NO_JOB",)


# -- unique coalescing ----------------------------------------------------------------------------

def test_empty_unique_never_coalesces():
    w = World()
    h1 = w.submit("c", b"f", b"", b"same", T.SUBMIT_JOB_BG)
    h2 = w.submit("c", b"f", b"", b"same", T.SUBMIT_JOB_BG)
    assert h1 != h2
    w.worker("w", b"f")
    assert w.drain("w") == [b"same", b"same"]


def test_same_unique_same_function_coalesces():
    w = World()
    h1 = w.submit("c1", b"f", b"u", b"one", T.SUBMIT_JOB_BG)
    h2 = w.submit("c2", b"f", b"u", b"two", T.SUBMIT_JOB_BG)
    assert h1 == h2
    w.worker("w", b"f")
    assert w.drain("w") == [b"one"]


def test_unique_is_scoped_per_function():
    w = World()
    h1 = w.submit("c", b"f", b"u", ptype=T.SUBMIT_JOB_BG)
    h2 = w.submit("c", b"g", b"u", ptype=T.SUBMIT_JOB_BG)
    assert h1 != h2


def test_dash_unique_coalesces_on_identical_data():
    w = World()
    h1 = w.submit("c", b"f", b"-", b"dash1", T.SUBMIT_JOB_BG)
    h2 = w.submit("c", b"f", b"-", b"dash1", T.SUBMIT_JOB_BG)
    assert h1 == h2


def test_dash_unique_with_different_data_is_a_new_job():
    w = World()
    h1 = w.submit("c", b"f", b"-", b"dash1", T.SUBMIT_JOB_BG)
    h2 = w.submit("c", b"f", b"-", b"dash2", T.SUBMIT_JOB_BG)
    assert h1 != h2


def test_dash_unique_with_empty_data_never_coalesces():
    w = World()
    h1 = w.submit("c", b"f", b"-", b"", T.SUBMIT_JOB_BG)
    h2 = w.submit("c", b"f", b"-", b"", T.SUBMIT_JOB_BG)
    assert h1 != h2


def test_dash_job_keeps_dash_as_its_unique():
    w = World()
    h = w.submit("c", b"f", b"-", b"data", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    assert w.grab("w", T.GRAB_JOB_UNIQ) == ("JOB_ASSIGN_UNIQ", h, b"f", b"-", b"data")


def test_dash_key_does_not_match_a_job_whose_unique_equals_the_data():
    w = World()
    h1 = w.submit("c", b"f", b"abc", b"x", T.SUBMIT_JOB_BG)
    h2 = w.submit("c", b"f", b"-", b"abc", T.SUBMIT_JOB_BG)
    assert h1 != h2


def test_foreground_submit_attaches_to_a_queued_job_and_both_get_results():
    w = World()
    h = w.submit("c1", b"f", b"u", b"one")
    assert w.submit("c2", b"f", b"u", b"two") == h
    w.worker("w", b"f")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"f", b"one")
    assert w.grab("w") == ("NO_JOB",)
    w.send("w", T.WORK_COMPLETE, h, b"done")
    assert w.recv("c1") == [("WORK_COMPLETE", h, b"done")]
    assert w.recv("c2") == [("WORK_COMPLETE", h, b"done")]


def test_foreground_submit_attaches_to_a_running_job_and_gets_later_results():
    w = World()
    h = w.submit("c1", b"f", b"u", b"one")
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_DATA, h, b"early")
    assert w.submit("c2", b"f", b"u", b"two") == h
    w.send("w", T.WORK_DATA, h, b"late")
    w.send("w", T.WORK_COMPLETE, h, b"done")
    assert w.recv("c1") == [("WORK_DATA", h, b"early"), ("WORK_DATA", h, b"late"),
                            ("WORK_COMPLETE", h, b"done")]
    assert w.recv("c2") == [("WORK_DATA", h, b"late"), ("WORK_COMPLETE", h, b"done")]


def test_foreground_submit_attaches_to_a_background_job():
    w = World()
    h = w.submit("bg", b"f", b"u1", b"payload", T.SUBMIT_JOB_BG)
    assert w.submit("fg", b"f", b"u1", b"other") == h
    w.worker("w", b"f")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"f", b"payload")
    w.send("w", T.WORK_COMPLETE, h, b"done")
    assert w.recv("fg") == [("WORK_COMPLETE", h, b"done")]
    assert w.recv("bg") == []


def test_background_resubmit_onto_a_foreground_job_returns_its_handle_without_attaching():
    w = World()
    h = w.submit("fg", b"f", b"u", b"one")
    assert w.submit("bg", b"f", b"u", b"two", T.SUBMIT_JOB_BG) == h
    w.worker("w", b"f")
    assert w.drain("w") == [b"one"]
    w.send("w", T.WORK_COMPLETE, h, b"done")
    assert w.recv("fg") == [("WORK_COMPLETE", h, b"done")]
    assert w.recv("bg") == []


def test_background_resubmit_onto_a_running_job_returns_the_same_handle():
    w = World()
    h = w.submit("c", b"f", b"u", b"one", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    w.grab("w")
    assert w.submit("c", b"f", b"u", b"two", T.SUBMIT_JOB_BG) == h
    assert w.grab("w") == ("NO_JOB",)


def test_coalesced_submit_keeps_the_original_priority():
    w = World()
    w.submit("c", b"f", b"u", b"low", T.SUBMIT_JOB_LOW_BG)
    w.submit("c", b"f", b"n", b"normal", T.SUBMIT_JOB_BG)
    w.submit("c", b"f", b"u", b"high", T.SUBMIT_JOB_HIGH_BG)
    w.worker("w", b"f")
    assert w.drain("w") == [b"normal", b"low"]


def test_same_unique_creates_a_new_job_after_completion():
    w = World()
    h1 = w.submit("c", b"f", b"u", b"one", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_COMPLETE, h1, b"")
    h2 = w.submit("c", b"f", b"u", b"two", T.SUBMIT_JOB_BG)
    assert h2 != h1
    assert w.drain("w") == [b"two"]


def test_same_unique_creates_a_new_job_after_work_fail():
    w = World()
    h1 = w.submit("c", b"f", b"u", b"one", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_FAIL, h1)
    assert w.submit("c", b"f", b"u", b"two", T.SUBMIT_JOB_BG) == handle(2)


# -- unique size ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ptype", FOREGROUND + BACKGROUND, ids=lambda t: T(t).name)
def test_unique_over_64_bytes_is_refused(ptype):
    w = World()
    w.connect("c")
    reply = w.request("c", ptype, b"f", b"u" * 65, b"data")
    assert reply == [("ERROR", b"ARGUMENT_TOO_LARGE", b"Unique value too large")]


def test_refused_unique_creates_no_job_and_the_connection_stays_usable():
    w = World()
    w.connect("c")
    w.request("c", T.SUBMIT_JOB_BG, b"f", b"u" * 65, b"data")
    w.worker("w", b"f")
    assert w.grab("w") == ("NO_JOB",)
    assert w.submit("c", b"f", b"ok") == handle(1)


def test_unique_of_64_bytes_is_accepted():
    w = World()
    w.connect("c")
    assert w.request("c", T.SUBMIT_JOB, b"f", b"u" * 64, b"d") == [("JOB_CREATED", handle(1))]


def test_reduce_submit_with_unique_over_64_bytes_is_refused():
    w = World()
    w.connect("c")
    reply = w.request("c", T.SUBMIT_REDUCE_JOB, b"f", b"u" * 65, b"r", b"", b"d")
    assert reply == [("ERROR", b"ARGUMENT_TOO_LARGE", b"Unique value too large")]
