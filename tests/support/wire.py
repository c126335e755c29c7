"""A tiny raw-socket Gearman client for tests.

Deliberately independent of ``gearmand_py``: the oracle must not share code with the server it
checks.  Packet layout (reference §1.1): ``magic(4) | type(uint32 BE) | size(uint32 BE) | data``.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import NamedTuple

REQ = b"\0REQ"
RES = b"\0RES"
HEADER = struct.Struct(">4sII")
DEFAULT_TIMEOUT = 2.0

# number -> (name, argc, data) as in libgearman's gearmand_command_info_list (reference §1.2).
# A packet has argc NUL-separated fields plus one opaque data field when ``data`` is true; when
# ``data`` is false the last of the argc fields is "the rest of the packet".
COMMANDS: dict[int, tuple[str, int, bool]] = {
    0: ("TEXT", 5, False),
    1: ("CAN_DO", 1, False),
    2: ("CANT_DO", 1, False),
    3: ("RESET_ABILITIES", 0, False),
    4: ("PRE_SLEEP", 0, False),
    5: ("UNUSED", 0, False),
    6: ("NOOP", 0, False),
    7: ("SUBMIT_JOB", 2, True),
    8: ("JOB_CREATED", 1, False),
    9: ("GRAB_JOB", 0, False),
    10: ("NO_JOB", 0, False),
    11: ("JOB_ASSIGN", 2, True),
    12: ("WORK_STATUS", 3, False),
    13: ("WORK_COMPLETE", 1, True),
    14: ("WORK_FAIL", 1, False),
    15: ("GET_STATUS", 1, False),
    16: ("ECHO_REQ", 0, True),
    17: ("ECHO_RES", 0, True),
    18: ("SUBMIT_JOB_BG", 2, True),
    19: ("ERROR", 2, False),
    20: ("STATUS_RES", 5, False),
    21: ("SUBMIT_JOB_HIGH", 2, True),
    22: ("SET_CLIENT_ID", 1, False),
    23: ("CAN_DO_TIMEOUT", 2, False),
    24: ("ALL_YOURS", 0, False),
    25: ("WORK_EXCEPTION", 1, True),
    26: ("OPTION_REQ", 1, False),
    27: ("OPTION_RES", 1, False),
    28: ("WORK_DATA", 1, True),
    29: ("WORK_WARNING", 1, True),
    30: ("GRAB_JOB_UNIQ", 0, False),
    31: ("JOB_ASSIGN_UNIQ", 3, True),
    32: ("SUBMIT_JOB_HIGH_BG", 2, True),
    33: ("SUBMIT_JOB_LOW", 2, True),
    34: ("SUBMIT_JOB_LOW_BG", 2, True),
    35: ("SUBMIT_JOB_SCHED", 7, True),
    36: ("SUBMIT_JOB_EPOCH", 3, True),
    37: ("SUBMIT_REDUCE_JOB", 4, True),
    38: ("SUBMIT_REDUCE_JOB_BACKGROUND", 4, True),
    39: ("GRAB_JOB_ALL", 0, False),
    40: ("JOB_ASSIGN_ALL", 4, True),
    41: ("GET_STATUS_UNIQUE", 1, False),
    42: ("STATUS_RES_UNIQUE", 6, False),
}
NAMES: dict[int, str] = {num: info[0] for num, info in COMMANDS.items()}
NUMBERS: dict[str, int] = {name: num for num, name in NAMES.items()}


def field_count(ptype: int) -> int:
    """How many fields a packet of this type splits into (argc, plus one if it carries data)."""
    _, argc, data = COMMANDS[ptype]
    return argc + int(data)


def type_number(ptype: int | str) -> int:
    return NUMBERS[ptype] if isinstance(ptype, str) else ptype


def to_bytes(value: bytes | str | int) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def encode(ptype: int | str, *args: bytes | str | int, magic: bytes = REQ) -> bytes:
    """One packet: ``args`` joined with NUL (the last one is the data, nothing is appended)."""
    payload = b"\0".join(to_bytes(a) for a in args)
    return HEADER.pack(magic, type_number(ptype), len(payload)) + payload


def split_payload(ptype: int, payload: bytes) -> tuple[bytes, ...]:
    """Split a received payload into the fields its type defines; unknown types and types with
    no fields but a non-empty payload keep the payload whole so nothing is lost."""
    if ptype not in COMMANDS:
        return (payload,)
    n = field_count(ptype)
    if n == 0:
        return (payload,) if payload else ()
    return tuple(payload.split(b"\0", n - 1))


class Packet(NamedTuple):
    magic: bytes
    name: str
    args: tuple[bytes, ...]


class ConnectionClosed(Exception):
    """The server closed the connection; ``data`` holds any bytes that were still buffered."""

    def __init__(self, data: bytes = b"") -> None:
        super().__init__(f"connection closed (pending {data!r})")
        self.data = data


class Conn:
    """A blocking connection with an explicit receive buffer and per-call timeouts."""

    def __init__(self, address: tuple[str, int], timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    # -- sending -----------------------------------------------------------------------------
    def send(self, ptype: int | str, *args: bytes | str | int, magic: bytes = REQ) -> None:
        """Send one binary packet; ``args`` are joined with NUL, the last is the data."""
        self.sock.sendall(encode(ptype, *args, magic=magic))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_line(self, text: str | bytes, ending: bytes = b"\r\n") -> None:
        """Send an admin text line (``ending`` appended; pass ``b""`` to send it verbatim)."""
        self.sock.sendall(to_bytes(text) + ending)

    # -- receiving ---------------------------------------------------------------------------
    def _fill(self, deadline: float) -> None:
        """Read at least one more chunk into the buffer or raise TimeoutError/ConnectionClosed."""
        if self.eof:
            raise ConnectionClosed(self.buf)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            raise TimeoutError
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            raise ConnectionClosed(self.buf)
        self.buf += chunk

    def _take(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_packet(self, timeout: float = DEFAULT_TIMEOUT) -> Packet:
        """The next binary packet, its payload split into that type's fields."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < HEADER.size:
            self._fill(deadline)
        magic, ptype, size = HEADER.unpack(self.buf[:HEADER.size])
        while len(self.buf) < HEADER.size + size:
            self._fill(deadline)
        self._take(HEADER.size, deadline)
        payload = self._take(size, deadline)
        return Packet(magic, NAMES.get(ptype, f"TYPE_{ptype}"), split_payload(ptype, payload))

    def recv_line(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The next text line, including its exact ending (``\\n`` or ``\\r\\n``)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def recv_list(self, timeout: float = DEFAULT_TIMEOUT) -> list[bytes]:
        """Lines of an admin list reply up to and including the final ``.\\n``."""
        deadline = time.monotonic() + timeout
        lines: list[bytes] = []
        while True:
            line = self.recv_line(max(deadline - time.monotonic(), 0.001))
            lines.append(line)
            if line == b".\n":
                return lines

    def recv_until_closed(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Everything the server sends until it closes; TimeoutError if it stays open."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except ConnectionClosed as closed:
                self.buf = b""
                return closed.data

    def expect_nothing(self, timeout: float = 0.25) -> None:
        """Assert that no byte arrives within ``timeout`` (for "no reply" cases)."""
        deadline = time.monotonic() + timeout
        if self.buf:
            raise AssertionError(f"unexpected bytes already buffered: {self.buf!r}")
        try:
            self._fill(deadline)
        except TimeoutError:
            return
        except ConnectionClosed:
            raise AssertionError("connection closed while expecting nothing") from None
        raise AssertionError(f"unexpected bytes: {self.buf!r}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
