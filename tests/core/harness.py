"""Drive the processing core (``Engine``) without sockets, the way the server's processor does.

A :class:`World` holds one ``Engine`` and named peers. Each peer has its own real ``Decoder``, so
requests go through the same byte parsing as on a socket. After every input the world flushes the
engine's output like ``Processor.flush``: it joins and clears ``peer.out``, disconnects peers that
are closing, and repeats until the engine has nothing more to say. What each peer received is kept
as raw bytes and decoded on demand by :func:`parse_responses`, a parser independent of the
server's encoder.

    w = World()
    w.connect("c")
    w.send("c", T.SUBMIT_JOB, b"f", b"", b"data")
    assert w.recv("c") == [("JOB_CREATED", b"H:test:1")]
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from gearmand_py.core.admin import Admin, ServerInfo
from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.core.model import Peer
from gearmand_py.protocol.codec import Decoder, Spread, encode_request
from gearmand_py.protocol.packets import PacketType as T

PREFIX = b"H:test"
VERSION = b"1.1.20+x"
PID = 1234
VERBOSE = "ERROR"

#: Response packet types -> (name, number of fields); the last field is the rest of the packet.
RESPONSES: dict[int, tuple[str, int]] = {
    6: ("NOOP", 0),
    8: ("JOB_CREATED", 1),
    10: ("NO_JOB", 0),
    11: ("JOB_ASSIGN", 3),
    12: ("WORK_STATUS", 3),
    13: ("WORK_COMPLETE", 2),
    14: ("WORK_FAIL", 1),
    17: ("ECHO_RES", 1),
    19: ("ERROR", 2),
    20: ("STATUS_RES", 5),
    25: ("WORK_EXCEPTION", 2),
    27: ("OPTION_RES", 1),
    28: ("WORK_DATA", 2),
    29: ("WORK_WARNING", 2),
    31: ("JOB_ASSIGN_UNIQ", 4),
    40: ("JOB_ASSIGN_ALL", 5),
    42: ("STATUS_RES_UNIQUE", 6),
}

Response = tuple[Any, ...]


class ProtocolViolation(AssertionError):
    """The server sent bytes a client could not parse."""


def parse_responses(data: bytes) -> list[Response]:
    """Split what a connection received into ``(TYPE_NAME, *fields)`` tuples.

    Binary packets must carry ``\\0RES`` magic, a known response type and exactly the number of
    fields that type has (fields split on NUL, the last one taking the rest). Text (admin replies)
    is returned as ``("TEXT", bytes)`` up to the next binary packet.
    """
    out: list[Response] = []
    pos = 0
    while pos < len(data):
        if data[pos] != 0:
            nxt = data.find(b"\0RES", pos)
            end = len(data) if nxt < 0 else nxt
            out.append(("TEXT", data[pos:end]))
            pos = end
            continue
        if len(data) - pos < 12:
            raise ProtocolViolation(f"truncated header: {data[pos:]!r}")
        magic, ptype, size = struct.unpack_from(">4sII", data, pos)
        if magic != b"\0RES":
            raise ProtocolViolation(f"bad magic {magic!r}")
        body = data[pos + 12:pos + 12 + size]
        if len(body) != size:
            raise ProtocolViolation(f"truncated body for type {ptype}")
        if ptype not in RESPONSES:
            raise ProtocolViolation(f"type {ptype} is not a response")
        name, nfields = RESPONSES[ptype]
        if nfields == 0:
            if body:
                raise ProtocolViolation(f"{name} with a body {body!r}")
            fields: list[bytes] = []
        else:
            fields = body.split(b"\0", nfields - 1)
            if len(fields) != nfields:
                raise ProtocolViolation(f"{name} needs {nfields} fields: {body!r}")
        out.append((name, *fields))
        pos += 12 + size
    return out


class World:
    """One engine and named connections to it."""

    def __init__(self, prefix: bytes = PREFIX, max_packet_size: int | None = None,
                 clock: Callable[[], float] = time.time, engine_class: type[Engine] = Engine,
                 **options: Any) -> None:
        self.engine = engine_class(EngineOptions(job_handle_prefix=prefix, **options),
                             Admin(ServerInfo(VERSION, PID, lambda: VERBOSE)), clock)
        self.max_packet_size = max_packet_size
        self.peers: dict[str, Peer] = {}
        self.decoders: dict[str, Decoder] = {}
        self.received: dict[str, bytearray] = {}
        self.closed: set[str] = set()
        self._next_fd = 10
        self._names: dict[int, str] = {}

    # -- connections ---------------------------------------------------------------------------

    def connect(self, name: str, ip: str = "127.0.0.1") -> Peer:
        assert name not in self.peers, f"{name} already connected"
        fd = self._next_fd
        self._next_fd += 1
        endpoint = ("endpoint", name)
        peer = self.engine.connect(endpoint, fd, ip)
        self.peers[name] = peer
        self._names[id(peer)] = name
        self.decoders[name] = (Decoder() if self.max_packet_size is None
                               else Decoder(self.max_packet_size))
        self.received[name] = bytearray()
        return peer

    def disconnect(self, name: str) -> None:
        """The connection went away (EOF): tell the engine and flush what that caused."""
        peer = self.peers[name]
        self.engine.disconnect(peer)
        self.closed.add(name)
        self.flush()

    def fd(self, name: str) -> int:
        return self.peers[name].fd

    # -- input ---------------------------------------------------------------------------------

    def raw(self, name: str, data: bytes) -> None:
        """Bytes arriving on ``name``'s socket."""
        assert name not in self.closed, f"{name} is closed"
        events = self.decoders[name].feed(data)
        if events:
            self.engine.receive(self.peers[name], events)
        self.flush()

    def send(self, name: str, ptype: int, *args: bytes) -> None:
        """A request packet from ``name``."""
        self.raw(name, encode_request(ptype, *args))

    def admin_line(self, name: str, line: bytes) -> None:
        self.raw(name, line + b"\r\n")

    def flush(self) -> None:
        """What ``Processor.flush`` does, minus the I/O loops."""
        dirty = self.engine.take_output()
        while dirty:
            for peer in dirty:
                name = self._names[id(peer)]
                data = b"".join(b"".join(item) if isinstance(item, Spread) else item
                                for item in peer.out)
                peer.out.clear()
                self.received[name] += data
                if peer.closing:
                    self.engine.disconnect(peer)
                    self.closed.add(name)
            dirty = self.engine.take_output()

    # -- output --------------------------------------------------------------------------------

    def recv(self, name: str) -> list[Response]:
        """Everything ``name`` received since the last ``recv``, decoded."""
        data = bytes(self.received[name])
        self.received[name].clear()
        return parse_responses(data)

    def recv_raw(self, name: str) -> bytes:
        data = bytes(self.received[name])
        self.received[name].clear()
        return data

    def request(self, name: str, ptype: int, *args: bytes) -> list[Response]:
        """Send a packet from ``name`` and return what ``name`` received (including anything
        pending from before)."""
        self.send(name, ptype, *args)
        return self.recv(name)

    def admin(self, name: str, line: bytes) -> bytes:
        """Send one admin line from ``name`` and return the raw reply bytes."""
        self.admin_line(name, line)
        return self.recv_raw(name)

    # -- shorthands ----------------------------------------------------------------------------

    def worker(self, name: str, *functions: bytes) -> Peer:
        """Connect ``name`` and CAN_DO each function, in order."""
        peer = self.connect(name)
        for function in functions:
            self.send(name, T.CAN_DO, function)
        assert self.recv(name) == []
        return peer

    def submit(self, name: str, function: bytes, unique: bytes = b"", data: bytes = b"",
               ptype: int = T.SUBMIT_JOB) -> bytes:
        """Submit a job from ``name``; asserts the reply is JOB_CREATED and returns the handle."""
        if name not in self.peers:
            self.connect(name)
        assert not self.received[name], f"{name} has unread output before submitting"
        reply = self.request(name, ptype, function, unique, data)
        assert len(reply) == 1 and reply[0][0] == "JOB_CREATED", reply
        return reply[0][1]

    def grab(self, name: str, ptype: int = T.GRAB_JOB) -> Response:
        """Grab a job for worker ``name``; returns the single reply."""
        reply = self.request(name, ptype)
        assert len(reply) == 1, reply
        return reply[0]

    def grab_data(self, name: str) -> bytes:
        """Grab with GRAB_JOB and return the assigned job's data (asserting one was assigned)."""
        reply = self.grab(name)
        assert reply[0] == "JOB_ASSIGN", reply
        return reply[3]

    def drain(self, name: str) -> list[bytes]:
        """Grab until NO_JOB; the data of each job assigned, in order (jobs stay running)."""
        data = []
        while True:
            reply = self.grab(name)
            if reply == ("NO_JOB",):
                return data
            assert reply[0] == "JOB_ASSIGN", reply
            data.append(reply[3])
            assert len(data) < 1000, "runaway grab loop"


def handle(n: int, prefix: bytes = PREFIX) -> bytes:
    return prefix + b":%d" % n
