"""A function's worker list at scale: removing a worker costs the same however many workers the
function has (issue 10: 10,000 workers of one function disconnecting at once stalled ``status``
for a second, each removal scanning the whole list), and the counts and the ``-w`` rotation stay
what they were."""

from __future__ import annotations

import sys
from collections.abc import Callable

from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import World


def opcodes_run(action: Callable[[], None]) -> int:
    """Bytecode instructions Python executes in ``action`` (and everything it calls): a measure
    of work that does not depend on the machine's speed or load."""
    count = 0

    def trace(frame, event, _arg):  # type: ignore[no-untyped-def]
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        action()
    finally:
        sys.settrace(None)
    return count


def status(w: World) -> bytes:
    return w.admin("admin", b"status")


def world_with_workers(count: int, **options: int) -> World:
    """``count`` workers of ``f`` named w0, w1, ... and an ``admin`` connection."""
    w = World(**options)
    w.connect("admin")
    for i in range(count):
        w.worker(f"w{i}", b"f")
    return w


def test_disconnecting_a_worker_costs_the_same_with_100_or_10000_workers_of_its_function():
    costs = {}
    for count in (100, 10_000):
        w = world_with_workers(count)
        # The first worker registered: the one furthest from the end of a list.
        costs[count] = opcodes_run(lambda: w.disconnect("w0"))
        assert status(w) == b"f\t0\t0\t%d\n.\n" % (count - 1)
    assert costs[10_000] < 2 * costs[100], costs  # a per-function scan: 90 times as many


def test_cant_do_of_one_function_costs_the_same_however_many_workers_it_has():
    costs = {}
    for count in (100, 10_000):
        w = world_with_workers(count)
        w.send("w0", T.CAN_DO, b"g")
        costs[count] = opcodes_run(lambda: w.send("w0", T.CANT_DO, b"f"))
        assert status(w) in (b"f\t0\t0\t%d\ng\t0\t0\t1\n.\n" % (count - 1),
                             b"g\t0\t0\t1\nf\t0\t0\t%d\n.\n" % (count - 1))
    assert costs[10_000] < 2 * costs[100], costs  # a per-function scan: 90 times as many


def test_20000_workers_of_one_function_all_disconnecting_leave_status_at_zero():
    w = world_with_workers(20_000)
    w.submit("c", b"f", data=b"job")
    assert status(w) == b"f\t1\t0\t20000\n.\n"
    for i in range(20_000):
        w.disconnect(f"w{i}")
    assert status(w) == b"f\t1\t0\t0\n.\n"
    # The list is usable again: a new worker gets the job.
    w.worker("late", b"f")
    assert w.grab_data("late") == b"job"


def test_duplicate_can_dos_count_twice_and_go_together():
    w = World()
    w.connect("admin")
    w.worker("w", b"f", b"f")
    w.worker("other", b"f")
    assert status(w) == b"f\t0\t0\t3\n.\n"
    w.send("w", T.CANT_DO, b"f")
    assert status(w) == b"f\t0\t0\t1\n.\n"
    w.send("w", T.CAN_DO, b"f")
    w.send("w", T.CAN_DO, b"f")
    w.send("w", T.RESET_ABILITIES)
    assert status(w) == b"f\t0\t0\t1\n.\n"


def test_drop_function_is_refused_while_a_worker_remains_and_allowed_once_all_left():
    w = world_with_workers(3)
    w.disconnect("w0")
    w.disconnect("w2")
    assert w.admin("admin", b"drop function f").startswith(b"ERR there are still")
    w.disconnect("w1")
    assert w.admin("admin", b"drop function f") == b"OK\r\n"


def sleep(w: World, *names: str) -> None:
    for name in names:
        w.send(name, T.PRE_SLEEP)


def woken_by_next_job(w: World, names: tuple[str, ...]) -> list[str]:
    w.submit("c", b"f", ptype=T.SUBMIT_JOB_BG)
    return [n for n in names if w.recv(n) == [("NOOP",)]]


def w0_and_w1_woken_ran_their_jobs_and_sleep_again() -> World:
    """-w 1, three sleeping workers; two jobs woke w0 then w1, so w2 is next in the rotation."""
    w = world_with_workers(3, worker_wakeup=1)
    sleep(w, "w0", "w1", "w2")
    for name in ("w0", "w1"):
        assert woken_by_next_job(w, ("w0", "w1", "w2")) == [name]
        handle = w.grab(name)[1]
        w.send(name, T.WORK_COMPLETE, handle, b"")
        sleep(w, name)
    return w


def test_worker_wakeup_1_rotation_is_not_shifted_by_a_worker_leaving_behind_the_head():
    w = w0_and_w1_woken_ran_their_jobs_and_sleep_again()
    w.disconnect("w0")
    assert woken_by_next_job(w, ("w1", "w2")) == ["w2"]
    assert woken_by_next_job(w, ("w1", "w2")) == ["w1"]


def test_worker_wakeup_1_a_joining_worker_is_woken_after_every_other():
    """A new worker enters just before the head, as gearmand adds it: last in the walk."""
    w = w0_and_w1_woken_ran_their_jobs_and_sleep_again()
    w.worker("w3", b"f")
    sleep(w, "w3")
    names = ("w0", "w1", "w2", "w3")
    assert [woken_by_next_job(w, names) for _ in range(4)] == [["w2"], ["w0"], ["w1"], ["w3"]]
