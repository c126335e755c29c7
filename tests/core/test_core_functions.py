"""The function table's bound: functions nobody uses are forgotten, oldest first, once there are
too many of them or their names are too long in all; functions in use never are."""

from __future__ import annotations

from gearmand_py.core.functions import FunctionTable
from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import World
from tests.core.test_core_admin import status_rows

LIMIT = 8


def small_world(max_name_bytes: int = 1 << 20) -> World:
    w = World()
    w.engine.functions = FunctionTable(max_functions=LIMIT, max_name_bytes=max_name_bytes)
    w.connect("admin")
    return w


def touch(w: World, name: bytes) -> None:
    """Name a function the way a passing worker does: CAN_DO, then CANT_DO."""
    w.send("passer", T.CAN_DO, name)
    w.send("passer", T.CANT_DO, name)


def listed(w: World) -> set[bytes]:
    return {row.split(b"\t")[0] for row in status_rows(w.admin("admin", b"status"))}


def test_idle_functions_past_the_bound_are_forgotten_oldest_first() -> None:
    w = small_world()
    w.connect("passer")
    for i in range(LIMIT):
        touch(w, b"f%d" % i)
    assert listed(w) == {b"f%d" % i for i in range(LIMIT)}  # up to the bound: all kept
    touch(w, b"f%d" % LIMIT)
    # Past it, the oldest are forgotten until half the bound is left; the newest stays.
    assert listed(w) == {b"f%d" % i for i in range(LIMIT - LIMIT // 2 + 1, LIMIT + 1)}


def test_functions_in_use_are_never_forgotten() -> None:
    w = small_world()
    w.submit("client", b"queued", b"", b"bg", T.SUBMIT_JOB_BG)
    w.worker("worker", b"served")
    w.submit("client", b"running", b"", b"fg")
    w.worker("runner", b"running")
    assert w.grab("runner")[0] == "JOB_ASSIGN"
    w.send("client", T.SUBMIT_JOB_EPOCH, b"scheduled", b"", b"%d" % (2 ** 40), b"data")
    assert w.admin("admin", b"create function declared") == b"OK\r\n"
    w.connect("passer")
    touch(w, b"limited")
    assert w.admin("admin", b"maxqueue limited 5") == b"OK\r\n"
    kept = {b"queued", b"served", b"running", b"declared", b"limited", b"scheduled"}
    for i in range(10 * LIMIT):
        touch(w, b"idle%d" % i)
    assert kept <= listed(w)
    rows = status_rows(w.admin("admin", b"status"))
    assert {b"queued\t1\t0\t0", b"served\t0\t0\t1", b"running\t1\t1\t1",
            b"scheduled\t1\t0\t0"} <= rows
    # The queued job is still where a worker finds it.
    w.worker("late", b"queued")
    assert w.grab("late")[0] == "JOB_ASSIGN"


def test_a_forgotten_function_comes_back_empty_when_named_again() -> None:
    w = small_world()
    w.connect("passer")
    for i in range(2 * LIMIT):
        touch(w, b"f%d" % i)
    assert b"f0" not in listed(w)
    w.submit("client", b"f0", b"", b"again", T.SUBMIT_JOB_BG)
    w.worker("worker", b"f0")
    assert w.grab("worker")[:3] == ("JOB_ASSIGN", b"H:test:1", b"f0")
    assert b"f0\t1\t1\t1" in status_rows(w.admin("admin", b"status"))


def test_long_names_are_bounded_by_their_bytes() -> None:
    w = small_world(max_name_bytes=64 * 1024)
    w.connect("passer")
    for i in range(6):
        touch(w, b"%d" % i + b"n" * 16 * 1024)
    names = listed(w)
    assert sum(map(len, names)) <= 64 * 1024
    assert b"5" + b"n" * 16 * 1024 in names


def test_a_dropped_function_no_longer_counts_towards_the_bound() -> None:
    w = small_world(max_name_bytes=4096)
    w.connect("passer")
    touch(w, b"x" * 3000)
    assert w.admin("admin", b"drop function " + b"x" * 3000) == b"OK\r\n"
    touch(w, b"a" * 1500)
    touch(w, b"b" * 1500)  # 6000 bytes of names if the dropped one still counted
    assert listed(w) == {b"a" * 1500, b"b" * 1500}
