"""Output a peer does not read: what would feed a stalled peer waits, in order, until it drains.

The server marks a peer ``stalled`` when its unsent output passes HIGH_WATER and calls
``Engine.drained`` when it is back under; here the tests do that by hand and record what the
engine asks of the I/O side (``throttle``).
"""

from __future__ import annotations

import pytest

from gearmand_py.core import engine as engine_module
from gearmand_py.core.model import Peer
from gearmand_py.protocol.codec import encode_request
from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import World


@pytest.fixture
def world() -> tuple[World, list[tuple[str, bool]]]:
    w = World()
    throttled: list[tuple[str, bool]] = []

    def throttle(peer: Peer, paused: bool) -> None:
        throttled.append((next(n for n, p in w.peers.items() if p is peer), paused))
    w.engine.throttle = throttle
    return w, throttled


def stalled_job(w: World) -> bytes:
    """Client ``c`` waits for a job that worker ``w`` runs; ``c`` stops reading."""
    handle = w.submit("c", b"f", b"", b"in")
    w.worker("w", b"f")
    assert w.grab("w")[:2] == ("JOB_ASSIGN", handle)
    w.peers["c"].stalled = True
    return handle


def stream(handle: bytes) -> bytes:
    """What the worker sends in one go: two chunks of data and the result."""
    return (encode_request(T.WORK_DATA, handle, b"1") + encode_request(T.WORK_DATA, handle, b"2")
            + encode_request(T.WORK_COMPLETE, handle, b"done"))


def test_a_worker_feeding_a_stalled_client_waits_until_it_drains(world) -> None:
    w, throttled = world
    handle = stalled_job(w)
    w.raw("w", stream(handle))
    assert w.recv("c") == [("WORK_DATA", handle, b"1")]
    assert throttled == [("w", True)]
    assert handle in w.engine.jobs  # the WORK_COMPLETE waits too
    w.engine.drained(w.peers["c"])
    w.flush()
    assert w.recv("c") == [("WORK_DATA", handle, b"2"), ("WORK_COMPLETE", handle, b"done")]
    assert throttled == [("w", True), ("w", False)]
    assert w.engine.jobs == {} and w.peers["c"].waiters is None


def test_a_parked_worker_that_leaves_still_completes_its_job(world) -> None:
    w, throttled = world
    handle = stalled_job(w)
    w.raw("w", stream(handle))
    w.disconnect("w")
    # What it sent before it left took effect: the job completed, it was not requeued.
    assert w.recv("c") == [("WORK_DATA", handle, b"1"), ("WORK_DATA", handle, b"2"),
                           ("WORK_COMPLETE", handle, b"done")]
    assert w.engine.jobs == {}
    assert w.peers["c"].waiters is None
    assert w.peers["w"].parked is None and w.peers["w"].blocked_on is None


def test_a_stalled_client_that_leaves_releases_its_workers(world) -> None:
    w, throttled = world
    handle = stalled_job(w)
    w.raw("w", stream(handle))
    w.disconnect("c")
    assert throttled == [("w", True), ("w", False)]
    assert w.engine.jobs == {}  # the parked WORK_COMPLETE ran
    assert w.peers["w"].parked is None and w.peers["w"].blocked_on is None
    w.send("w", T.ECHO_REQ, b"on")
    assert w.recv("w") == [("ECHO_RES", b"on")]


def test_admin_lines_of_a_stalled_peer_wait_until_it_drains(world) -> None:
    w, throttled = world
    w.connect("a")
    w.peers["a"].stalled = True
    w.raw("a", b"version\nversion\n")
    assert w.recv_raw("a") == b""
    assert throttled == [("a", True)]
    w.engine.drained(w.peers["a"])
    w.flush()
    assert w.recv_raw("a").count(b"OK ") == 2
    assert throttled == [("a", True), ("a", False)]


def test_admin_replies_stop_once_one_read_produced_high_water(world, monkeypatch) -> None:
    w, throttled = world
    monkeypatch.setattr(engine_module, "HIGH_WATER", 10)
    w.connect("a")
    w.raw("a", b"version\nversion\nversion\n")
    # The first reply passed the mark: the rest wait for the server to see it drain.
    assert w.recv_raw("a").count(b"OK ") == 1
    assert w.peers["a"].stalled and throttled == [("a", True)]
    w.engine.drained(w.peers["a"])
    w.flush()
    assert w.recv_raw("a").count(b"OK ") == 1
    w.engine.drained(w.peers["a"])
    w.flush()
    assert w.recv_raw("a").count(b"OK ") == 1
    # Paused while anything waited (re-pausing is harmless), read again once nothing does.
    assert throttled[-1] == ("a", False) and all(paused for _, paused in throttled[:-1])
    assert w.peers["a"].parked is None and w.peers["a"].waiters is None
