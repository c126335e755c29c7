"""Shared pieces of the protocol tests: event shorthands and the byte-corpus loader.

The corpus lives in ``tests/protocol/packets/``: ``NNN-name.bin`` holds raw request bytes exactly as
a client would send them, and ``NNN-name.py`` next to it says what the decoder must turn them into::

    EVENTS = [P(T.CAN_DO, b"fn\\0")]      # required: the events, in order
    MAX_PACKET_SIZE = 16                  # optional: Decoder(max_packet_size=...)
    BUFFERED = 3                          # optional: decoder.buffered afterwards (default 0)
    XFAIL = "why"                         # optional: a known bug, run as xfail(strict=True)

``Fatal`` events are compared without their free-text ``reason`` (only ``code``/``text`` go on the
wire); every other event is compared exactly, class included.
"""

from __future__ import annotations

import runpy
import socket
import struct
from pathlib import Path
from typing import NamedTuple

from gearmand_py.protocol.codec import Decoder
from gearmand_py.protocol.events import AdminCommand, Fatal, Packet, Rejected
from gearmand_py.protocol.packets import PacketType as T

__all__ = [
    "A", "CLOSE", "GEARMAND_COMMAND_INFO", "P", "RES_MAGIC", "T", "TOO_FEW", "TOO_LARGE", "Case",
    "decode_chunks", "frame", "load_corpus", "norm", "read_events", "req", "res",
]

PACKETS_DIR = Path(__file__).resolve().parent / "packets"

# gearmand_command_info_list[] from libgearman/command.cc (1.1.20): type -> (argc, data).
GEARMAND_COMMAND_INFO = {
    0: ("TEXT", 5, False), 1: ("CAN_DO", 1, False), 2: ("CANT_DO", 1, False),
    3: ("RESET_ABILITIES", 0, False), 4: ("PRE_SLEEP", 0, False), 5: ("UNUSED", 0, False),
    6: ("NOOP", 0, False), 7: ("SUBMIT_JOB", 2, True), 8: ("JOB_CREATED", 1, False),
    9: ("GRAB_JOB", 0, False), 10: ("NO_JOB", 0, False), 11: ("JOB_ASSIGN", 2, True),
    12: ("WORK_STATUS", 3, False), 13: ("WORK_COMPLETE", 1, True), 14: ("WORK_FAIL", 1, False),
    15: ("GET_STATUS", 1, False), 16: ("ECHO_REQ", 0, True), 17: ("ECHO_RES", 0, True),
    18: ("SUBMIT_JOB_BG", 2, True), 19: ("ERROR", 2, False), 20: ("STATUS_RES", 5, False),
    21: ("SUBMIT_JOB_HIGH", 2, True), 22: ("SET_CLIENT_ID", 1, False),
    23: ("CAN_DO_TIMEOUT", 2, False), 24: ("ALL_YOURS", 0, False),
    25: ("WORK_EXCEPTION", 1, True), 26: ("OPTION_REQ", 1, False), 27: ("OPTION_RES", 1, False),
    28: ("WORK_DATA", 1, True), 29: ("WORK_WARNING", 1, True), 30: ("GRAB_JOB_UNIQ", 0, False),
    31: ("JOB_ASSIGN_UNIQ", 3, True), 32: ("SUBMIT_JOB_HIGH_BG", 2, True),
    33: ("SUBMIT_JOB_LOW", 2, True), 34: ("SUBMIT_JOB_LOW_BG", 2, True),
    35: ("SUBMIT_JOB_SCHED", 7, True), 36: ("SUBMIT_JOB_EPOCH", 3, True),
    37: ("SUBMIT_REDUCE_JOB", 4, True), 38: ("SUBMIT_REDUCE_JOB_BACKGROUND", 4, True),
    39: ("GRAB_JOB_ALL", 0, False), 40: ("JOB_ASSIGN_ALL", 4, True),
    41: ("GET_STATUS_UNIQUE", 1, False), 42: ("STATUS_RES_UNIQUE", 6, False),
}


def P(ptype: int, *args: bytes) -> Packet:
    """A decoded binary packet."""
    return (int(ptype), tuple(args))


def A(*tokens: bytes) -> AdminCommand:
    """A decoded admin line."""
    return AdminCommand(tuple(tokens))


#: A complete request whose body holds too few NULs for its type: ERROR reply, stream stays in sync.
TOO_FEW = Rejected(b"INVALID_PACKET", b"Packet has too few arguments")
#: ``\0RES`` magic on a request: gearmand's ``ERROR INVALID_MAGIC "Request magic expected"``.
RES_MAGIC = Rejected(b"INVALID_MAGIC", b"Request magic expected")
#: Protocol failure that closes the connection silently, as gearmand does (no ERROR packet).
CLOSE = Fatal("")
#: A header declaring more than ``max_packet_size``: ERROR ARGUMENT_TOO_LARGE, then close.
TOO_LARGE = Fatal("", b"ARGUMENT_TOO_LARGE", b"Packet too large")


# Framing written out independently of the codec under test.
def frame(magic: bytes, ptype: int, body: bytes, size: int | None = None) -> bytes:
    return magic + struct.pack(">II", ptype, len(body) if size is None else size) + body


def req(ptype: int, body: bytes = b"") -> bytes:
    return frame(b"\0REQ", int(ptype), body)


def res(ptype: int, body: bytes = b"") -> bytes:
    return frame(b"\0RES", int(ptype), body)


def norm(events) -> list[tuple]:
    """Events as comparable tuples: class name first, a Fatal's ``reason`` blanked."""
    out = []
    for event in events:
        if isinstance(event, Fatal):
            event = event._replace(reason="")
        name = "Packet" if type(event) is tuple else type(event).__name__
        out.append((name, *event))
    return out


def decode_chunks(chunks, max_packet_size: int | None = None) -> tuple[list, Decoder]:
    """Feed ``chunks`` one by one to a fresh decoder; return all events and the decoder."""
    decoder = Decoder() if max_packet_size is None else Decoder(max_packet_size)
    events: list = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events, decoder


class Case(NamedTuple):
    name: str
    data: bytes
    events: list
    max_packet_size: int | None
    buffered: int
    xfail: str | None


def load_corpus() -> list[Case]:
    cases = []
    for bin_path in sorted(PACKETS_DIR.glob("*.bin")):
        spec = runpy.run_path(str(bin_path.with_suffix(".py")))
        cases.append(Case(
            name=bin_path.stem,
            data=bin_path.read_bytes(),
            events=list(spec["EVENTS"]),
            max_packet_size=spec.get("MAX_PACKET_SIZE"),
            buffered=spec.get("BUFFERED", 0),
            xfail=spec.get("XFAIL"),
        ))
    return cases


def read_events(sock: socket.socket, decoder: Decoder, count: int) -> list:
    """Read from ``sock`` until ``decoder`` has produced at least ``count`` events."""
    events: list = []
    while len(events) < count:
        chunk = sock.recv(65536)
        assert chunk, "the peer closed the connection"
        events.extend(decoder.feed(chunk))
    return events
