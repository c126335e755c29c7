"""What a listener's connections speak: a protocol, over plain TCP or TLS.

The processing core speaks gear packets to every peer. A connection's *protocol* stands between
its bytes and the core, in two halves owned by two threads:

- the **decoder** (the connection's I/O thread) turns the bytes read into the core's events
  (``feed``), and says when nothing more will be read (``dead``);
- the **renderer** (the processing thread) turns the gear replies the core produced for the
  peer into the bytes to write, and says whether to close after them; what it holds back (a
  response waiting behind an unfinished earlier one) counts towards the peer's back-pressure
  mark as unsent output does. The gear protocol has none: the core's replies are already its
  bytes, and that is the fast path.

The *transport* is plain TCP or TLS, and the rule of who touches a socket from which thread is
the same for both: the I/O thread reads (and runs a TLS handshake, without blocking, before the
core hears of the connection: a failed handshake is logged at INFO and costs nothing else); the
processing thread writes what the socket takes at once and hands the rest, and everything after
it until the loop has written it all, to the I/O thread (``connection`` has the details). A TLS
socket is one ``SSLSocket`` used from both threads, so each call on it takes the connection's
lock (``tls``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gearmand_py.protocol.codec import Decoder
from gearmand_py.protocol.events import Event

if TYPE_CHECKING:
    import ssl


class RequestDecoder(Protocol):
    """The input half of a protocol (``codec.Decoder`` for gear)."""

    dead: bool

    def feed(self, data: bytes) -> list[Event]: ...

    @property
    def buffered(self) -> int: ...


class Renderer(Protocol):
    """The output half (``protocol.http.HttpResponses``)."""

    #: Bytes produced for the peer but held back, not yet returned by ``render``.
    held: int

    def render(self, out: bytes) -> tuple[bytes, bool]:
        """The core's gear replies for one peer -> (bytes to write, close after them)."""
        ...

#: Makes both halves for a new connection, given ``--max-packet-size``.
ProtocolFactory = Callable[[int], tuple[RequestDecoder, Renderer | None]]


def gear(max_packet_size: int) -> tuple[RequestDecoder, Renderer | None]:
    """Gearman's binary protocol and its text admin protocol, on one port."""
    return Decoder(max_packet_size), None


def http(max_packet_size: int) -> tuple[RequestDecoder, Renderer | None]:
    """gearmand's HTTP protocol (``-r http``): a request is a job, the response its result.
    Imported with the first HTTP connection, so a server without ``-r http`` never loads
    httptools."""
    from gearmand_py.protocol.http import http_protocol
    return http_protocol(max_packet_size)


PROTOCOLS: dict[str, ProtocolFactory] = {"gear": gear, "http": http}


@dataclass(frozen=True)
class FrontEnd:
    """A protocol from ``PROTOCOLS`` and, for TLS, the context to wrap each connection in."""

    protocol: str
    tls: ssl.SSLContext | None = None

    @property
    def name(self) -> str:
        """``gear``, ``gear+tls``, ``http``…: how the startup line names a listener."""
        return self.protocol + ("+tls" if self.tls is not None else "")

    def open(self, max_packet_size: int) -> tuple[RequestDecoder, Renderer | None]:
        return PROTOCOLS[self.protocol](max_packet_size)
