"""What a listener's connections speak: a protocol, over plain TCP or TLS.

The processing core speaks gear packets to every peer. A connection's *protocol* stands between
its bytes and the core, in two halves owned by two threads:

- the **decoder** (the connection's I/O thread) turns the bytes read into the core's events
  (``feed``), and says when nothing more will be read (``dead``);
- the **renderer** (the processing thread) turns the gear replies the core produced for the
  peer into the bytes to write, and says whether to close after them. The gear protocol has
  none: the core's replies are already its bytes, and that is the fast path.

The *transport* decides who may write to the socket. Who touches which socket from which thread:

- **Plain TCP**: the I/O thread reads; the processing thread writes what the socket takes at
  once and hands the rest, and everything after it until the loop has written it all, to the
  I/O thread (``connection`` has the details).
- **TLS**: an ``SSLSocket`` must not be used by two threads at once, and a TLS write may need a
  read (and a read a write). So the I/O thread does all of a TLS connection's I/O, the
  handshake included, and the processing thread hands it every reply; with ``-t 0`` that is the
  same thread and the hand-off is a call. The handshake runs inside the loop without blocking it,
  and the core hears of the connection only once it is done: a failed handshake is logged at
  INFO and costs nothing else.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gearmand_py.protocol.codec import Decoder
from gearmand_py.protocol.events import Event


class RequestDecoder(Protocol):
    """The input half of a protocol (``codec.Decoder`` for gear)."""

    dead: bool

    def feed(self, data: bytes) -> list[Event]: ...

    def buffered(self) -> int: ...


#: The output half: the core's gear replies for one peer -> (bytes to write, close after them).
Renderer = Callable[[bytes], tuple[bytes, bool]]
#: Makes both halves for a new connection, given ``--max-packet-size``.
ProtocolFactory = Callable[[int], tuple[RequestDecoder, Renderer | None]]


def gear(max_packet_size: int) -> tuple[RequestDecoder, Renderer | None]:
    """Gearman's binary protocol and its text admin protocol, on one port."""
    return Decoder(max_packet_size), None


PROTOCOLS: dict[str, ProtocolFactory] = {"gear": gear}


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
