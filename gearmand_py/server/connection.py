"""One client socket as an I/O thread holds it: the socket, its decoder and its unsent bytes."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from gearmand_py.protocol.codec import Decoder

if TYPE_CHECKING:
    from gearmand_py.server.io_loop import IOLoop


class Connection:
    """The I/O side of a connection. ``peer`` is the core's record, touched only by the
    processing thread; everything else only by the owning I/O loop."""

    __slots__ = ("sock", "fd", "ip", "loop", "decoder", "wbuf", "closing", "closed", "peer")

    def __init__(self, sock: socket.socket, ip: str, loop: IOLoop, max_packet_size: int) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.ip = ip
        self.loop = loop
        self.decoder = Decoder(max_packet_size)
        self.wbuf = bytearray()
        #: Close once ``wbuf`` is written (the core asked for it).
        self.closing = False
        self.closed = False
        self.peer: Any = None
