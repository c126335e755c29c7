"""Bytes in and out of the job server's connections, as the kernel counts them (TCP_INFO).

Counting in the I/O path would cost every read and write; the kernel keeps these counts per TCP
socket anyway. The monitor asks for the totals: the sockets still open are read then, and a
connection's counts are added to its I/O loop's ``Closed`` tally when the loop lets go of it.
They are the bytes on the wire (TLS records, not the data inside); without TCP_INFO (not Linux,
a Unix socket) a connection counts nothing.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

#: struct tcp_info up to tcpi_bytes_received (linux/tcp.h, Linux 4.1 and later):
#: tcpi_bytes_acked (bytes sent that the peer acknowledged) at 120, tcpi_bytes_received at 128.
_TCP_INFO_SIZE = 136
_ACKED_RECEIVED = struct.Struct("=QQ")
_OFFSET = 120
_TCP_INFO = getattr(socket, "TCP_INFO", None)
#: The kernel counts a FIN as a byte of sequence space: states (tcpi_state, the first byte) in
#: which the peer's FIN was received, and in which ours was acknowledged.
_FIN_RECEIVED = {6, 8, 9, 11}  # TIME_WAIT, CLOSE_WAIT, LAST_ACK, CLOSING
_FIN_ACKED = {5, 6}  # FIN_WAIT2, TIME_WAIT


class _Socket(Protocol):
    def getsockopt(self, level: int, option: int, buflen: int) -> bytes: ...


def counts(sock: _Socket) -> tuple[int, int]:
    """(bytes received, bytes sent and acknowledged) of one TCP socket; (0, 0) if unknown."""
    if _TCP_INFO is None:
        return 0, 0
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_SIZE)
    except OSError:  # closed meanwhile, or not TCP
        return 0, 0
    if len(info) < _TCP_INFO_SIZE:
        return 0, 0
    sent, received = _ACKED_RECEIVED.unpack_from(info, _OFFSET)
    state = info[0]
    return received - (state in _FIN_RECEIVED), sent - (state in _FIN_ACKED)


class Closed:
    """The counts of an I/O loop's closed connections; only that loop's thread adds to it."""

    __slots__ = ("received", "sent")

    def __init__(self) -> None:
        self.received = 0
        self.sent = 0

    def add(self, sock: _Socket) -> None:
        received, sent = counts(sock)
        self.received += received
        self.sent += sent


class Totals:
    """Bytes received and sent by every connection so far, never less than last time asked.

    ``loops`` gives each I/O loop's ``Closed`` tally and its open connections' sockets. A
    connection closing while the totals are summed may be missed for one reading (it is neither
    open nor yet in the tally); the totals then stay where they were instead of going down,
    which Prometheus would take for a restart."""

    def __init__(self, loops: Callable[[], Iterable[tuple[Closed, Iterable[Any]]]]) -> None:
        self._loops = loops
        self._lock = threading.Lock()
        self._last = (0, 0)

    def __call__(self) -> tuple[int, int]:
        received = sent = 0
        for closed, socks in self._loops():
            # The tally before the open sockets: a loop takes a socket out of its open set before
            # it adds it to the tally, so no socket is counted twice.
            received += closed.received
            sent += closed.sent
            for sock in socks:
                r, s = counts(sock)
                received += r
                sent += s
        with self._lock:
            self._last = (max(self._last[0], received), max(self._last[1], sent))
            return self._last
