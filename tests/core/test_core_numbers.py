"""Extreme numbers in requests: every numeric field is read as gearmand's C library reads it,
and where gearmand fails the request without a word gearmand-py answers an ERROR and keeps the
connection."""

from __future__ import annotations

import pytest

from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import World

HUGE = [b"1" + b"0" * 400, b"9" * 5000, b"-" + b"9" * 5000, b"99999999999999999999",
        b"9223372036854775808", b"-9223372036854775809"]
EPOCH_OUT_OF_RANGE = ("ERROR", b"ARGUMENT_TOO_LARGE", b"Epoch value out of range")
TIMEOUT_TOO_LARGE = ("ERROR", b"ARGUMENT_TOO_LARGE", b"Timeout value too large")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def still_serves(w: World, name: str) -> None:
    assert w.request(name, T.ECHO_REQ, b"ping") == [("ECHO_RES", b"ping")]


@pytest.mark.parametrize("epoch", HUGE, ids=lambda f: f"{len(f)}-bytes")
def test_epoch_beyond_64_bits_is_refused_and_the_connection_stays(epoch: bytes) -> None:
    w = World()
    w.connect("c")
    assert w.request("c", T.SUBMIT_JOB_EPOCH, b"f", b"", epoch, b"data") == [EPOCH_OUT_OF_RANGE]
    still_serves(w, "c")
    assert w.admin("c", b"status") == b".\n"  # nothing was created


def test_largest_epoch_waits_and_timers_stay_computable() -> None:
    clock = Clock()
    w = World(clock=clock)
    w.connect("c")
    reply = w.request("c", T.SUBMIT_JOB_EPOCH, b"f", b"u", b"9223372036854775807", b"later")
    assert reply[0][0] == "JOB_CREATED"
    assert w.request("c", T.SUBMIT_JOB_EPOCH, b"f", b"", b"-9223372036854775808", b"now")[0][0] \
        == "JOB_CREATED"
    w.worker("w", b"f")
    assert w.grab_data("w") == b"now"
    assert w.grab("w") == ("NO_JOB",)
    timers = w.engine.timers
    deadline = timers.next_deadline()
    assert deadline is not None and deadline - clock() > 0  # what the processor's tick computes
    clock.now += 10**9
    timers.run_due(clock())
    assert w.grab("w") == ("NO_JOB",)


@pytest.mark.parametrize("numerator, denominator, shown", [
    (b"9" * 5000, b"-" + b"9" * 5000, (b"4294967295", b"0")),
    (b"4294967297", b"99999999999999999999", (b"1", b"4294967295")),
])
def test_work_status_numbers_saturate_like_atoi(numerator: bytes, denominator: bytes,
                                               shown: tuple[bytes, bytes]) -> None:
    w = World()
    w.connect("c")
    h = w.submit("c", b"f")
    w.worker("w", b"f")
    w.grab("w")
    w.send("w", T.WORK_STATUS, h, numerator, denominator)
    assert w.recv("c") == [("WORK_STATUS", h, numerator, denominator)]  # relayed as sent
    assert w.request("c", T.GET_STATUS, h) == [("STATUS_RES", h, b"1", b"1", *shown)]


@pytest.mark.parametrize("value, limit", [
    (b"9" * 5000, 0),           # atoi: (int) LONG_MAX is -1, and negative means unlimited
    (b"2147483648", 0),         # (int) 2**31 is negative too
    (b"4294967297", 1),         # the low 32 bits
    (b"-" + b"9" * 5000, 0),
])
def test_maxqueue_reads_its_limit_like_atoi(value: bytes, limit: int) -> None:
    w = World()
    w.connect("c")
    w.engine.function(b"f")
    assert w.admin("c", b"maxqueue f " + value) == b"OK\r\n"
    assert w.engine.functions[b"f"].max_queue == [limit] * 3


@pytest.mark.parametrize("timeout", [b"99999999999999999999", b"-9999999999999999999"])
def test_can_do_timeout_out_of_range_is_refused(timeout: bytes) -> None:
    w = World()
    w.connect("w")
    assert w.request("w", T.CAN_DO_TIMEOUT, b"f", timeout) == [TIMEOUT_TOO_LARGE]
    still_serves(w, "w")
    assert w.admin("w", b"status") == b".\n"  # nothing was registered


def test_largest_can_do_timeout_in_range_registers() -> None:
    w = World()
    w.connect("w")
    assert w.request("w", T.CAN_DO_TIMEOUT, b"f", b"9223372036854775806") == []
    h = w.submit("c", b"f")
    assert w.grab("w")[:2] == ("JOB_ASSIGN", h)
