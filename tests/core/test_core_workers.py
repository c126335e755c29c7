"""Workers: abilities, the GRAB_JOB family, PRE_SLEEP/NOOP wake-ups, priority and round robin."""

from __future__ import annotations

import pytest

from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import World

GRABS = [T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL]


# -- abilities ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ptype", GRABS, ids=lambda t: T(t).name)
def test_grab_with_nothing_queued_replies_no_job(ptype):
    w = World()
    w.worker("w", b"f")
    assert w.grab("w", ptype) == ("NO_JOB",)


def test_grab_without_any_can_do_replies_no_job_even_with_jobs_queued():
    w = World()
    w.submit("c", b"f")
    w.connect("w")
    assert w.grab("w") == ("NO_JOB",)


def test_can_do_and_grab_job_assigns():
    w = World()
    h = w.submit("c", b"f", b"u", b"data")
    w.worker("w", b"f")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"f", b"data")


def test_worker_only_gets_jobs_of_its_functions():
    w = World()
    w.submit("c", b"g", b"", b"g-job")
    w.submit("c", b"f", b"", b"f-job")
    w.worker("w", b"f")
    assert w.drain("w") == [b"f-job"]


def test_can_do_sends_no_reply():
    w = World()
    w.connect("w")
    assert w.request("w", T.CAN_DO, b"f") == []


def test_cant_do_removes_the_ability():
    w = World()
    w.submit("c", b"f")
    w.worker("w", b"f")
    assert w.request("w", T.CANT_DO, b"f") == []
    assert w.grab("w") == ("NO_JOB",)


def test_cant_do_removes_duplicate_can_dos_too():
    w = World()
    w.submit("c", b"f")
    w.worker("w", b"f", b"f")
    w.send("w", T.CANT_DO, b"f")
    assert w.grab("w") == ("NO_JOB",)


def test_cant_do_keeps_other_abilities():
    w = World()
    w.submit("c", b"g", b"", b"g-job")
    w.worker("w", b"f", b"g")
    w.send("w", T.CANT_DO, b"f")
    assert w.drain("w") == [b"g-job"]


def test_cant_do_for_an_unknown_function_is_harmless():
    w = World()
    w.submit("c", b"f", b"", b"job")
    w.worker("w", b"f")
    assert w.request("w", T.CANT_DO, b"never-seen") == []
    assert w.drain("w") == [b"job"]


def test_cant_do_for_a_function_the_worker_never_had_is_harmless():
    w = World()
    w.submit("c", b"f", b"", b"job")
    w.worker("other", b"g")
    w.worker("w", b"f")
    assert w.request("w", T.CANT_DO, b"g") == []
    assert w.drain("w") == [b"job"]


def test_reset_abilities_removes_every_ability():
    w = World()
    w.submit("c", b"f")
    w.submit("c", b"g")
    w.worker("w", b"f", b"g")
    assert w.request("w", T.RESET_ABILITIES) == []
    assert w.grab("w") == ("NO_JOB",)


def test_can_do_after_reset_abilities_works_again():
    w = World()
    w.submit("c", b"f", b"", b"job")
    w.worker("w", b"f")
    w.send("w", T.RESET_ABILITIES)
    w.send("w", T.CAN_DO, b"f")
    assert w.drain("w") == [b"job"]


# -- GRAB_JOB variants -------------------------------------------------------------------------

def test_grab_job_uniq_replies_job_assign_uniq():
    w = World()
    h = w.submit("c", b"f", b"u1", b"hello")
    w.worker("w", b"f")
    assert w.grab("w", T.GRAB_JOB_UNIQ) == ("JOB_ASSIGN_UNIQ", h, b"f", b"u1", b"hello")


def test_grab_job_uniq_with_empty_unique():
    w = World()
    h = w.submit("c", b"f", b"", b"hello")
    w.worker("w", b"f")
    assert w.grab("w", T.GRAB_JOB_UNIQ) == ("JOB_ASSIGN_UNIQ", h, b"f", b"", b"hello")


def test_grab_job_all_without_reducer_replies_job_assign_uniq():
    w = World()
    h = w.submit("c", b"f", b"u3", b"plain")
    w.worker("w", b"f")
    assert w.grab("w", T.GRAB_JOB_ALL) == ("JOB_ASSIGN_UNIQ", h, b"f", b"u3", b"plain")


@pytest.mark.parametrize("ptype", [T.SUBMIT_REDUCE_JOB, T.SUBMIT_REDUCE_JOB_BACKGROUND],
                         ids=lambda t: T(t).name)
def test_grab_job_all_with_reducer_replies_job_assign_all(ptype):
    w = World()
    w.connect("c")
    w.send("c", ptype, b"red", b"ru", b"myreducer", b"aggregate-ignored", b"data")
    h = w.recv("c")[0][1]
    w.worker("w", b"red")
    assert w.grab("w", T.GRAB_JOB_ALL) == ("JOB_ASSIGN_ALL", h, b"red", b"ru", b"myreducer",
                                           b"data")


def test_grab_job_on_a_reduce_job_replies_plain_job_assign():
    w = World()
    w.connect("c")
    w.send("c", T.SUBMIT_REDUCE_JOB, b"red2", b"", b"myreducer", b"", b"data")
    h = w.recv("c")[0][1]
    w.worker("w", b"red2")
    assert w.grab("w") == ("JOB_ASSIGN", h, b"red2", b"data")


def test_grab_job_uniq_on_a_reduce_job_replies_job_assign_uniq():
    w = World()
    w.connect("c")
    w.send("c", T.SUBMIT_REDUCE_JOB, b"red", b"ru", b"myreducer", b"", b"data")
    h = w.recv("c")[0][1]
    w.worker("w", b"red")
    assert w.grab("w", T.GRAB_JOB_UNIQ) == ("JOB_ASSIGN_UNIQ", h, b"red", b"ru", b"data")


def test_foreground_reduce_submitter_receives_the_result():
    w = World()
    w.connect("c")
    w.send("c", T.SUBMIT_REDUCE_JOB, b"red", b"ru", b"r", b"", b"data")
    h = w.recv("c")[0][1]
    w.worker("w", b"red")
    w.grab("w", T.GRAB_JOB_ALL)
    w.send("w", T.WORK_COMPLETE, h, b"reduced")
    assert w.recv("c") == [("WORK_COMPLETE", h, b"reduced")]


def test_a_job_is_assigned_only_once():
    w = World()
    w.submit("c", b"f", b"", b"only")
    w.worker("w1", b"f")
    w.worker("w2", b"f")
    assert w.drain("w1") == [b"only"]
    assert w.grab("w2") == ("NO_JOB",)


# -- PRE_SLEEP and NOOP ------------------------------------------------------------------------

def test_pre_sleep_with_nothing_queued_sends_nothing():
    w = World()
    w.worker("w", b"f")
    assert w.request("w", T.PRE_SLEEP) == []


def test_sleeping_worker_gets_exactly_one_noop_when_a_job_arrives():
    w = World()
    w.worker("w", b"f")
    w.send("w", T.PRE_SLEEP)
    w.submit("c", b"f")
    assert w.recv("w") == [("NOOP",)]


def test_pre_sleep_with_a_job_waiting_gets_an_immediate_noop():
    w = World()
    w.submit("c", b"f")
    w.worker("w", b"f")
    assert w.request("w", T.PRE_SLEEP) == [("NOOP",)]


def test_pre_sleep_with_a_job_waiting_for_another_function_sends_nothing():
    w = World()
    w.submit("c", b"g")
    w.worker("w", b"f")
    assert w.request("w", T.PRE_SLEEP) == []


def test_at_most_one_outstanding_noop_until_the_worker_grabs():
    w = World()
    w.worker("w", b"f")
    w.send("w", T.PRE_SLEEP)
    w.submit("c", b"f")
    w.submit("c", b"f")
    w.submit("c", b"f")
    assert w.recv("w") == [("NOOP",)]


def test_worker_is_woken_again_after_grabbing_and_sleeping_again():
    w = World()
    w.worker("w", b"f")
    w.send("w", T.PRE_SLEEP)
    h = w.submit("c", b"f")
    assert w.recv("w") == [("NOOP",)]
    w.grab("w")
    w.send("w", T.WORK_COMPLETE, h, b"")
    assert w.recv("c") == [("WORK_COMPLETE", h, b"")]
    assert w.grab("w") == ("NO_JOB",)
    w.send("w", T.PRE_SLEEP)
    w.submit("c", b"f")
    assert w.recv("w") == [("NOOP",)]


def test_immediate_noop_from_pre_sleep_is_not_followed_by_another_before_a_grab():
    w = World()
    w.submit("c", b"f")
    w.worker("w", b"f")
    assert w.request("w", T.PRE_SLEEP) == [("NOOP",)]
    w.submit("c", b"f")
    assert w.recv("w") == []


def test_worker_that_did_not_pre_sleep_gets_no_noop():
    w = World()
    w.worker("w", b"f")
    w.submit("c", b"f")
    assert w.recv("w") == []


def test_busy_worker_that_grabbed_after_a_noop_gets_no_noop():
    w = World()
    w.worker("w", b"f")
    w.send("w", T.PRE_SLEEP)
    w.submit("c", b"f")
    assert w.recv("w") == [("NOOP",)]
    assert w.grab("w")[0] == "JOB_ASSIGN"
    w.submit("c", b"f")
    assert w.recv("w") == []


def test_sleeping_worker_of_another_function_is_not_woken():
    w = World()
    w.worker("w", b"g")
    w.send("w", T.PRE_SLEEP)
    w.submit("c", b"f")
    assert w.recv("w") == []


def test_all_sleeping_workers_of_the_function_are_woken_by_default():
    w = World()
    for name in ("w0", "w1", "w2"):
        w.worker(name, b"f")
        w.send(name, T.PRE_SLEEP)
    w.submit("c", b"f")
    assert [w.recv(n) for n in ("w0", "w1", "w2")] == [[("NOOP",)]] * 3


def test_worker_wakeup_1_wakes_one_worker_per_job_rotating():
    w = World(worker_wakeup=1)
    names = ("w0", "w1", "w2")
    for name in names:
        w.worker(name, b"f")
        w.send(name, T.PRE_SLEEP)
    woken = []
    for _ in range(3):
        w.submit("c", b"f")
        got = [n for n in names if w.recv(n) == [("NOOP",)]]
        woken.append(got)
    assert sorted(sum(woken, [])) == list(names)
    assert all(len(g) == 1 for g in woken)


def test_worker_wakeup_1_in_registration_order():
    w = World(worker_wakeup=1)
    names = ("w0", "w1", "w2")
    for name in names:
        w.worker(name, b"f")
        w.send(name, T.PRE_SLEEP)
    order = []
    for _ in range(3):
        w.submit("c", b"f")
        order += [n for n in names if w.recv(n)]
    assert order == ["w0", "w1", "w2"]


def test_worker_wakeup_1_rotates_even_when_the_previous_worker_is_asleep_again():
    w = World(worker_wakeup=1)
    for name in ("w0", "w1"):
        w.worker(name, b"f")
        w.send(name, T.PRE_SLEEP)
    h = w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    assert (w.recv("w0"), w.recv("w1")) == ([("NOOP",)], [])
    assert w.grab("w0")[:2] == ("JOB_ASSIGN", h)
    w.send("w0", T.WORK_COMPLETE, h, b"")
    w.send("w0", T.PRE_SLEEP)
    w.submit("c", b"f", b"", b"", T.SUBMIT_JOB_BG)
    assert (w.recv("w0"), w.recv("w1")) == ([], [("NOOP",)])


def test_worker_wakeup_1_wakes_nobody_when_every_worker_has_a_noop_outstanding():
    w = World(worker_wakeup=1)
    names = ("w0", "w1", "w2")
    for name in names:
        w.worker(name, b"f")
        w.send(name, T.PRE_SLEEP)
    for _ in range(3):
        w.submit("c", b"f")
    for name in names:
        w.recv(name)
    w.submit("c", b"f")
    assert [w.recv(n) for n in names] == [[], [], []]


def test_worker_wakeup_2_wakes_at_most_two():
    w = World(worker_wakeup=2)
    names = ("w0", "w1", "w2")
    for name in names:
        w.worker(name, b"f")
        w.send(name, T.PRE_SLEEP)
    w.submit("c", b"f")
    assert sum(1 for n in names if w.recv(n) == [("NOOP",)]) == 2


def test_worker_wakeup_skips_workers_that_are_not_sleeping():
    w = World(worker_wakeup=1)
    w.worker("busy", b"f")
    w.worker("sleepy", b"f")
    w.send("sleepy", T.PRE_SLEEP)
    w.submit("c", b"f")
    assert w.recv("sleepy") == [("NOOP",)]
    assert w.recv("busy") == []


# -- priority ---------------------------------------------------------------------------------

def test_high_before_normal_before_low_within_a_function():
    w = World()
    w.submit("c", b"f", b"", b"low", T.SUBMIT_JOB_LOW_BG)
    w.submit("c", b"f", b"", b"normal", T.SUBMIT_JOB_BG)
    w.submit("c", b"f", b"", b"high", T.SUBMIT_JOB_HIGH_BG)
    w.worker("w", b"f")
    assert w.drain("w") == [b"high", b"normal", b"low"]


def test_each_priority_is_fifo():
    w = World()
    for data, ptype in [(b"low1", T.SUBMIT_JOB_LOW), (b"norm1", T.SUBMIT_JOB),
                        (b"high1", T.SUBMIT_JOB_HIGH), (b"low2", T.SUBMIT_JOB_LOW_BG),
                        (b"norm2", T.SUBMIT_JOB_BG), (b"high2", T.SUBMIT_JOB_HIGH_BG)]:
        w.submit("c", b"prio", b"", data, ptype)
    w.worker("w", b"prio")
    assert w.drain("w") == [b"high1", b"high2", b"norm1", b"norm2", b"low1", b"low2"]


def test_foreground_and_background_share_a_priority_queue():
    w = World()
    w.submit("c", b"f", b"", b"bg1", T.SUBMIT_JOB_BG)
    w.submit("c", b"f", b"", b"fg", T.SUBMIT_JOB)
    w.submit("c", b"f", b"", b"bg2", T.SUBMIT_JOB_BG)
    w.worker("w", b"f")
    assert w.drain("w") == [b"bg1", b"fg", b"bg2"]


@pytest.mark.parametrize("can_do_order, expected", [
    ((b"prioA", b"prio"),
     [b"high1", b"A-high", b"norm1", b"low1", b"A-low"]),
    ((b"prio", b"prioA"),
     [b"A-high", b"high1", b"norm1", b"A-low", b"low1"]),
], ids=["prio-newest", "prioA-newest"])
def test_priority_is_global_across_a_workers_functions(can_do_order, expected):
    # Deliberately differs from gearmand 1.1.20 (per-function priority, which would run all of
    # prio's jobs, LOW included, before prioA's HIGH job); matches gearmand 2.0.
    w = World()
    for data, ptype in [(b"low1", T.SUBMIT_JOB_LOW_BG), (b"norm1", T.SUBMIT_JOB_BG),
                        (b"high1", T.SUBMIT_JOB_HIGH_BG)]:
        w.submit("c", b"prio", b"", data, ptype)
    w.submit("c", b"prioA", b"", b"A-high", T.SUBMIT_JOB_HIGH_BG)
    w.submit("c", b"prioA", b"", b"A-low", T.SUBMIT_JOB_LOW_BG)
    w.worker("w", *can_do_order)
    assert w.drain("w") == expected


def test_within_a_priority_the_newest_can_do_is_tried_first():
    w = World()
    w.submit("c", b"a", b"", b"a1", T.SUBMIT_JOB_BG)
    w.submit("c", b"b", b"", b"b1", T.SUBMIT_JOB_BG)
    w.submit("c", b"a", b"", b"a2", T.SUBMIT_JOB_BG)
    w.submit("c", b"b", b"", b"b2", T.SUBMIT_JOB_BG)
    w.worker("w", b"a", b"b")
    assert w.drain("w") == [b"b1", b"b2", b"a1", b"a2"]


def test_high_job_of_the_older_function_beats_normal_job_of_the_newer():
    w = World()
    w.submit("c", b"new", b"", b"new-normal", T.SUBMIT_JOB_BG)
    w.submit("c", b"old", b"", b"old-high", T.SUBMIT_JOB_HIGH_BG)
    w.worker("w", b"old", b"new")
    assert w.drain("w") == [b"old-high", b"new-normal"]


def test_low_job_of_the_newer_function_waits_for_normal_job_of_the_older():
    w = World()
    w.submit("c", b"new", b"", b"new-low", T.SUBMIT_JOB_LOW_BG)
    w.submit("c", b"old", b"", b"old-normal", T.SUBMIT_JOB_BG)
    w.worker("w", b"old", b"new")
    assert w.drain("w") == [b"old-normal", b"new-low"]


# -- round robin --------------------------------------------------------------------------------

def test_without_round_robin_one_function_is_drained_first():
    w = World()
    for i in range(3):
        w.submit("c", b"ra", b"", b"ra%d" % i, T.SUBMIT_JOB_BG)
        w.submit("c", b"rb", b"", b"rb%d" % i, T.SUBMIT_JOB_BG)
    w.worker("w", b"ra", b"rb")
    assert w.drain("w") == [b"rb0", b"rb1", b"rb2", b"ra0", b"ra1", b"ra2"]


def test_round_robin_rotates_functions():
    w = World(round_robin=True)
    for i in range(3):
        w.submit("c", b"ra", b"", b"ra%d" % i, T.SUBMIT_JOB_BG)
        w.submit("c", b"rb", b"", b"rb%d" % i, T.SUBMIT_JOB_BG)
    w.worker("w", b"ra", b"rb")
    assert w.drain("w") == [b"rb0", b"ra0", b"rb1", b"ra1", b"rb2", b"ra2"]


def test_round_robin_keeps_priority_global():
    w = World(round_robin=True)
    w.submit("c", b"ra", b"", b"ra-normal", T.SUBMIT_JOB_BG)
    w.submit("c", b"rb", b"", b"rb-normal1", T.SUBMIT_JOB_BG)
    w.submit("c", b"rb", b"", b"rb-normal2", T.SUBMIT_JOB_BG)
    w.submit("c", b"ra", b"", b"ra-high", T.SUBMIT_JOB_HIGH_BG)
    w.worker("w", b"ra", b"rb")
    got = w.drain("w")
    assert got[0] == b"ra-high"
    assert got[1:] == [b"rb-normal1", b"ra-normal", b"rb-normal2"]
