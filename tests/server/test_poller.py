"""The I/O loops' epoll wrapper reports what ``selectors`` would: the same masks, a hang-up as
readable to a reader, nothing for a descriptor no longer watched."""

from __future__ import annotations

import socket
from selectors import EVENT_READ, EVENT_WRITE

import pytest

from gearmand_py.server.poller import MASKS, REPORTED, Poller


def _ready(poller: Poller, timeout: float) -> list[tuple[object, int]]:
    """(file object, mask) per ready descriptor, as the I/O loop hands them to handlers."""
    out = []
    for fd, event in poller.poll(timeout):
        entry = poller.entries.get(fd)
        if entry is not None:
            out.append((entry[0], MASKS[event & REPORTED] & entry[2]))
    return out


def test_masks_match_selectors_and_a_hang_up_reads():
    a, b = socket.socketpair()
    poller = Poller()
    try:
        poller.register(a, EVENT_READ | EVENT_WRITE, print)
        assert _ready(poller, 1) == [(a, EVENT_WRITE)]
        b.send(b"x")
        assert _ready(poller, 1) == [(a, EVENT_READ | EVENT_WRITE)]
        poller.modify(a, EVENT_READ, print)
        assert poller.watched(a) == (a, print, EVENT_READ)
        a.recv(1)
        assert _ready(poller, 0) == []
        b.close()
        assert _ready(poller, 1) == [(a, EVENT_READ)]
        poller.unregister(a)
        assert poller.watched(a) is None and _ready(poller, 0) == []
        with pytest.raises(KeyError):
            poller.unregister(a)
    finally:
        poller.close()
        a.close()
