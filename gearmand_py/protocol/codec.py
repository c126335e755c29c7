"""The sans-IO codec: bytes in, events out (``Decoder``); packets in, bytes out (``encode``).

No sockets and no threads: an I/O thread feeds whatever ``recv`` returned and forwards the events.
The decoder keeps one ``bytearray`` and an offset, so input is scanned once (O(bytes read)), and it
refuses a header that declares more than ``max_packet_size`` before buffering the body. Arguments
are split within the packet's declared length only, so a malformed packet can never desynchronise
the stream (gearmand scans past the packet for missing NULs).
"""

from __future__ import annotations

import re
import struct

from gearmand_py.protocol.events import AdminCommand, Event, Fatal, Packet, Rejected
from gearmand_py.protocol.packets import ARG_SPECS, HEADER_SIZE, REQ, RES, TYPE_LIMIT, PacketType

DEFAULT_MAX_PACKET_SIZE = 64 * 1024 * 1024
#: The longest admin line, newline included; gearmand 1.1.20 closes the connection on longer ones.
MAX_ADMIN_LINE = 8192
#: gearmand splits an admin line into at most this many tokens and closes the connection on more.
MAX_ADMIN_TOKENS = 5

_SPACES = re.compile(rb" +")
_HEADER = struct.Struct(">4sII")
_SIZES = struct.Struct(">II")

# Per type: (NUL-terminated field count, field count); None for types gearmand refuses to parse.
_SPLIT: list[tuple[int, int] | None] = [None] * TYPE_LIMIT
for _type, _spec in ARG_SPECS.items():
    if _type:
        _SPLIT[_type] = (_spec.nul_terminated, _spec.fields)

TOO_FEW_ARGS = Rejected(b"INVALID_PACKET", b"Packet has too few arguments")
#: Perl's Gearman::Worker sends WORK_STATUS as ``HANDLE\0NUMERATOR`` (it drops the denominator);
#: gearmand ignores that without a reply, and the Perl worker dies on an ERROR, so such a packet
#: is passed on short (two fields) for the core to ignore.
_SHORT_WORK_STATUS = PacketType.WORK_STATUS
RESPONSE_MAGIC = Rejected(b"INVALID_MAGIC", b"Request magic expected")


def split_args(body: bytes, nul_terminated: int, fields: int) -> tuple[bytes, ...] | None:
    """Split ``body`` into ``fields`` fields, the first ``nul_terminated`` ending at a NUL; None
    when the body holds fewer NULs than that."""
    if not fields:
        return ()
    if nul_terminated == 0:
        return (body,)
    parts = body.split(b"\0", nul_terminated)
    return tuple(parts) if len(parts) == fields else None


def admin_tokens(line: bytes) -> list[bytes]:
    """Split an admin line as gearmand does: a run of spaces is one separator, so a leading or
    trailing space yields an empty first or last token; tabs are not separators."""
    return _SPACES.split(line)


class Decoder:
    """Turns a byte stream from one connection into events, in order.

    After a ``Fatal`` event the decoder is dead: it returns nothing more, because the stream can
    no longer be trusted and the connection is about to close.
    """

    __slots__ = ("_buf", "_pos", "max_packet_size", "dead")

    def __init__(self, max_packet_size: int = DEFAULT_MAX_PACKET_SIZE) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.max_packet_size = max_packet_size
        self.dead = False

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete packet or line."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[Event]:
        """Add ``data`` and return every complete event it finishes."""
        if self.dead:
            return []
        buf = self._buf
        if self._pos and self._pos == len(buf):
            buf.clear()
            self._pos = 0
        buf += data
        events: list[Event] = []
        pos = self._pos
        end = len(buf)
        while pos < end:
            if buf[pos] == 0:
                if end - pos < HEADER_SIZE:
                    break
                magic = buf[pos:pos + 4]
                ptype, size = _SIZES.unpack_from(buf, pos + 4)
                if magic != REQ and magic != RES:
                    return self._die(events, pos, Fatal("bad magic"))
                if ptype == 0 or ptype >= TYPE_LIMIT:
                    return self._die(events, pos, Fatal(f"invalid packet type {ptype}"))
                if size > self.max_packet_size:
                    return self._die(events, pos, Fatal(
                        f"packet of {size} bytes exceeds --max-packet-size",
                        b"ARGUMENT_TOO_LARGE", b"Packet too large"))
                stop = pos + HEADER_SIZE + size
                if stop > end:
                    break
                if magic == RES:
                    events.append(RESPONSE_MAGIC)
                else:
                    nul_terminated, fields = _SPLIT[ptype]  # type: ignore[misc]
                    body = bytes(buf[pos + HEADER_SIZE:stop])
                    args = split_args(body, nul_terminated, fields)
                    if args is not None:
                        events.append(Packet(ptype, args))
                    elif ptype == _SHORT_WORK_STATUS and body.count(b"\0") == 1:
                        events.append(Packet(ptype, tuple(body.split(b"\0"))))
                    else:
                        events.append(TOO_FEW_ARGS)
                pos = stop
            else:
                nl = buf.find(b"\n", pos, pos + MAX_ADMIN_LINE)
                if nl < 0:
                    if end - pos >= MAX_ADMIN_LINE:
                        return self._die(events, pos, Fatal("admin line too long"))
                    break
                line = bytes(buf[pos:nl - 1 if nl > pos and buf[nl - 1] == 13 else nl])
                pos = nl + 1
                tokens = admin_tokens(line)
                if len(tokens) > MAX_ADMIN_TOKENS:
                    return self._die(events, pos, Fatal("too many admin tokens"))
                events.append(AdminCommand(tuple(tokens)))
        self._pos = pos
        if pos == end:
            buf.clear()
            self._pos = 0
        elif pos > 65536 and pos * 2 > end:
            del buf[:pos]
            self._pos = 0
        return events

    def _die(self, events: list[Event], pos: int, fatal: Fatal) -> list[Event]:
        self.dead = True
        self._buf = bytearray()
        self._pos = 0
        events.append(fatal)
        return events


def encode(ptype: int, *args: bytes) -> bytes:
    """A response packet (``\\0RES`` magic) whose fields are joined with NULs."""
    body = b"\0".join(args)
    return _HEADER.pack(RES, ptype, len(body)) + body


def encode_request(ptype: int, *args: bytes) -> bytes:
    """A request packet (``\\0REQ`` magic), for tests and the client tools."""
    body = b"\0".join(args)
    return _HEADER.pack(REQ, ptype, len(body)) + body
