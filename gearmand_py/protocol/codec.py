"""The sans-IO codec: bytes in, events out (``Decoder``); packets in, bytes out (``encode``).

No sockets and no threads: an I/O thread feeds whatever ``recv`` returned and forwards the events.
The decoder keeps one ``bytearray`` and an offset, so input is scanned once (O(bytes read)), and it
refuses a header that declares more than ``max_packet_size`` before buffering the body. Arguments
are split within the packet's declared length only, so a malformed packet can never desynchronise
the stream (gearmand scans past the packet for missing NULs).

A job's data can be as large as a packet, and every copy of it costs its size again in memory. So
a packet of at least ``LARGE`` bytes that ends in opaque data hands that data out as a read-only
view of the buffer it was received into (the decoder starts a new buffer), and ``encode`` returns
a packet whose last field is that large as a ``Spread``: the header and small fields, then the
data itself, for the writer to send without joining them into a copy.
"""

from __future__ import annotations

import re
import struct
from typing import Final

from mypy_extensions import mypyc_attr

from gearmand_py.protocol.events import AdminCommand, Event, Fatal, Rejected
from gearmand_py.protocol.packets import ARG_SPECS, HEADER_SIZE, REQ, RES, TYPE_LIMIT, PacketType

# The module's constants are Final: the compiled build reads each as a literal or a C static
# instead of looking it up in the module's dictionary every time (several times per packet).
DEFAULT_MAX_PACKET_SIZE: Final = 64 * 1024 * 1024
#: The longest admin line, newline included; gearmand 1.1.20 closes the connection on longer ones.
MAX_ADMIN_LINE: Final = 8192
#: gearmand splits an admin line into at most this many tokens and closes the connection on more.
MAX_ADMIN_TOKENS: Final = 5
#: A packet body (decoded) or last field (encoded) this long is not copied; below it, copying is
#: cheaper than the bookkeeping.
LARGE: Final = 1024 * 1024

_SPACES: Final = re.compile(rb" +")
_HEADER: Final = struct.Struct(">4sII")
#: The header as three integers: comparing the magic as a number saves a bytes object per packet.
#: A bound method, so that the compiled decoder does not look it up per packet.
_UNPACK_HEADER: Final = struct.Struct(">III").unpack_from
_REQ: Final = int.from_bytes(REQ, "big")
#: Per type, a response header's first eight bytes (magic and type): with the size appended
#: by ``int.to_bytes`` it costs no call through ``struct`` per reply.
RESPONSE_HEADS: Final = [RES + ptype.to_bytes(4, "big") for ptype in range(TYPE_LIMIT)]
_RES: Final = int.from_bytes(RES, "big")
#: A header's first word below this starts with a NUL: a packet, not a text line.
_FIRST_BYTE: Final = 1 << 24

# Per type: (NUL-terminated field count, field count); None for types gearmand refuses to parse.
_SPLIT: Final[list[tuple[int, int] | None]] = [None] * TYPE_LIMIT
for _type, _spec in ARG_SPECS.items():
    if _type:
        _SPLIT[_type] = (_spec.nul_terminated, _spec.fields)
#: Per type: whether its last field is opaque data (a job's data or result), so may stay a view.
_HAS_DATA: Final = [bool(spec and spec.has_data) for spec in map(ARG_SPECS.get, range(TYPE_LIMIT))]

TOO_FEW_ARGS: Final = Rejected(b"INVALID_PACKET", b"Packet has too few arguments")
#: Perl's Gearman::Worker sends WORK_STATUS as ``HANDLE\0NUMERATOR`` (it drops the denominator);
#: gearmand ignores that without a reply, and the Perl worker dies on an ERROR, so such a packet
#: is passed on short (two fields) for the core to ignore.
_SHORT_WORK_STATUS: Final = int(PacketType.WORK_STATUS)
RESPONSE_MAGIC: Final = Rejected(b"INVALID_MAGIC", b"Request magic expected")
#: ``\0REQ`` magic in what a server sent; a client treats it, like any ``Rejected``, as the
#: server breaking the protocol.
REQUEST_MAGIC: Final = Rejected(b"INVALID_MAGIC", b"Response magic expected")


def admin_tokens(line: bytes) -> list[bytes]:
    """Split an admin line as gearmand does: a run of spaces is one separator, so a leading or
    trailing space yields an empty first or last token; tabs are not separators."""
    return _SPACES.split(line)


class Decoder:
    """Turns a byte stream from one connection into events, in order.

    After a ``Fatal`` event the decoder is dead: it returns nothing more, because the stream can
    no longer be trusted and the connection is about to close.

    This one reads what clients and workers send (``\0REQ``); ``ResponseDecoder`` reads what a
    server sends. The side is fixed by the class, so ``feed`` reads it once per call, never per
    packet.
    """

    __slots__ = ("_buf", "_pos", "max_packet_size", "dead")
    #: The magic this side expects, the other side's magic (a complete packet, refused with
    #: ``_refused``) and, as ints, compared with the header's first word.
    _accepted = _REQ
    _other = _RES
    _refused = RESPONSE_MAGIC

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
        """Add ``data`` (what ``recv`` returned) and return every complete event it finishes."""
        if self.dead:
            return []
        buffered = self._pos < len(self._buf)
        if buffered:
            buf: bytes | bytearray = self._buf
            buf += data  # type: ignore[operator]
            pos = self._pos
        else:
            # Nothing left over: parse ``data`` itself (slices of it are the fields, one copy)
            # and keep only an incomplete tail.
            buf = data
            pos = 0
        events: list[Event] = []
        accepted = self._accepted
        other = self._other
        exported = False  # a view of self._buf went out: it must not change any more
        end = len(buf)
        while pos < end:
            # A packet starts with a NUL, a text line never does. Read from the header where
            # there is one: indexing a ``bytes | bytearray`` is a generic call when compiled.
            if end - pos >= HEADER_SIZE:
                header: tuple[int, int, int] = _UNPACK_HEADER(buf, pos)
                binary = header[0] < _FIRST_BYTE
            elif buf[pos] == 0:
                break  # the start of a header
            else:
                binary = False
            if binary:
                magic, ptype, size = header
                if magic != accepted and magic != other:
                    return self._die(events, Fatal("bad magic"))
                if ptype == 0 or ptype >= TYPE_LIMIT:
                    return self._die(events, Fatal(f"invalid packet type {ptype}"))
                if size > self.max_packet_size:
                    return self._die(events, Fatal(
                        f"packet of {size} bytes exceeds --max-packet-size",
                        b"ARGUMENT_TOO_LARGE", b"Packet too large"))
                stop = pos + HEADER_SIZE + size
                if stop > end:
                    break
                if magic == other:
                    events.append(self._refused)
                elif buffered and size >= LARGE and _HAS_DATA[ptype]:
                    events.append(_large_packet(ptype, self._buf, pos + HEADER_SIZE, stop))
                    exported = True
                else:
                    # Sliced as what it is: bytes from recv is sliced directly when compiled.
                    body = (bytes(self._buf[pos + HEADER_SIZE:stop]) if buffered
                            else data[pos + HEADER_SIZE:stop])
                    nul_terminated, fields = _SPLIT[ptype]  # type: ignore[misc]
                    if not nul_terminated:
                        events.append((ptype, (body,) if fields else ()))
                    else:
                        parts = body.split(b"\0", nul_terminated)
                        if len(parts) == fields or (ptype == _SHORT_WORK_STATUS
                                                    and len(parts) == 2):
                            events.append((ptype, tuple(parts)))
                        else:
                            events.append(TOO_FEW_ARGS)
                pos = stop
            else:
                nl = buf.find(b"\n", pos, pos + MAX_ADMIN_LINE)
                if nl < 0:
                    if end - pos >= MAX_ADMIN_LINE:
                        return self._die(events, Fatal("admin line too long"))
                    break
                line = bytes(buf[pos:nl - 1 if nl > pos and buf[nl - 1] == 13 else nl])
                pos = nl + 1
                tokens = admin_tokens(line)
                if len(tokens) > MAX_ADMIN_TOKENS:
                    return self._die(events, Fatal("too many admin tokens"))
                events.append(AdminCommand(tuple(tokens)))
        if not buffered:
            if pos < end:
                self._buf = bytearray(memoryview(data)[pos:])
                self._pos = 0
        elif exported:
            self._buf = bytearray(memoryview(buf)[pos:])
            self._pos = 0
        elif pos == end:
            self._buf.clear()
            self._pos = 0
        elif pos > 65536 and pos * 2 > end:
            del self._buf[:pos]
            self._pos = 0
        else:
            self._pos = pos
        return events

    def _die(self, events: list[Event], fatal: Fatal) -> list[Event]:
        self.dead = True
        self._buf = bytearray()
        self._pos = 0
        events.append(fatal)
        return events


class ResponseDecoder(Decoder):
    """Decodes what a server sends to a client or worker (``\0RES``), for the client library
    and tools. Text lines come out as ``AdminCommand`` as on the server side; a client, which
    never asked for one on a binary connection, treats that as a protocol error."""

    __slots__ = ()
    _accepted = _RES
    _other = _REQ
    _refused = REQUEST_MAGIC


@mypyc_attr(native_class=False)
class Spread(tuple):  # type: ignore[type-arg]
    """A packet as ``(head, data)``: the header and every field but the last (NUL-terminated),
    then the last field, too large to copy. Not a buffer: whoever writes it sends both parts."""

    __slots__ = ()


Reply = bytes | Spread
"""One encoded response packet, as the engine hands it to a writer."""


def _large_packet(ptype: int, buf: bytearray, start: int, stop: int) -> Event:
    """A packet whose last field stays a read-only view of ``buf`` (the caller gives ``buf``
    up); the other fields are split off as ``bytes``, as ``bytes.split`` would."""
    nul_terminated, fields = _SPLIT[ptype]  # type: ignore[misc]
    parts: list[bytes | memoryview] = []
    for _ in range(nul_terminated):
        nul = buf.find(b"\0", start, stop)
        if nul < 0:
            return TOO_FEW_ARGS
        parts.append(bytes(buf[start:nul]))
        start = nul + 1
    parts.append(memoryview(buf)[start:stop].toreadonly())
    return (ptype, tuple(parts))  # type: ignore[return-value]


def encode(ptype: int, *args: bytes | memoryview) -> Reply:
    """A response packet (``\\0RES`` magic) whose fields are joined with NULs; a ``Spread`` when
    the last field is at least LARGE."""
    return encode_fields(ptype, args)


def encode_fields(ptype: int, args: tuple[bytes | memoryview, ...]) -> Reply:
    """``encode`` for fields that arrive as a tuple (a worker's, relayed to clients): in the
    compiled build this is a direct call, where ``encode(ptype, *fields)`` is a generic one."""
    if args and len(args[-1]) >= LARGE:
        data = args[-1]
        head = b"\0".join(args[:-1] + (b"",)) if len(args) > 1 else b""
        return Spread((RESPONSE_HEADS[ptype] + (len(head) + len(data)).to_bytes(4, "big") + head,
                       data))
    body = b"\0".join(args)
    return RESPONSE_HEADS[ptype] + len(body).to_bytes(4, "big") + body


def encode_request(ptype: int, *args: bytes) -> bytes:
    """A request packet (``\\0REQ`` magic), for tests and the client tools."""
    body = b"\0".join(args)
    return _HEADER.pack(REQ, ptype, len(body)) + body
