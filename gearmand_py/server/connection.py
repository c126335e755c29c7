"""One client socket as the server holds it: the socket, its protocol and its unsent bytes."""

from __future__ import annotations

import socket
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gearmand_py.core.model import Peer
    from gearmand_py.protocol.codec import Decoder
    from gearmand_py.server.frontend import FrontEnd, Renderer, RequestDecoder
    from gearmand_py.server.io_loop import IOLoop
    from gearmand_py.server.tls import TlsSocket


class Connection:
    """The server side of a connection.

    Who touches what: ``peer``, ``handed``, ``reads_done`` and ``renderer`` belong to the
    processing thread, which also writes to ``sock`` while ``handed`` is 0 (a TLS socket takes
    care of the two threads itself: ``tls``); ``decoder``, ``handshaking``, ``wbuf``,
    ``pieces``, ``piece_bytes``, ``taken``, ``closing``, ``closed``, ``paused``, ``reads``,
    ``reading_ahead`` and ``read_wants_write`` belong to the owning I/O loop, which reads from
    ``sock`` and writes what it was handed. The I/O loop closes the socket only when the
    processing thread asked it to (after which that thread never writes to it again); a
    connection the peer dropped is closed by the processing thread once it has heard of it, so
    a descriptor is never reused while the other thread may still write to it. With the monitor
    on, its threads read ``sock``'s byte counts from the kernel (``server.wire``), nothing
    else.

    Back-pressure: ``handed`` over ``HIGH_WATER`` makes the peer *stalled* (``Peer.stalled``, the
    processing thread's). A peer whose events would add to a stalled peer's output is parked by
    the core (its events wait on its ``Peer``), and the processing thread asks the parked peer's
    I/O loop to stop reading it (``IOLoop.pause``, which sets ``paused``); when DRAINED brings
    ``handed`` back under the mark, the core runs the parked events and the loop is asked to read
    again. A paused connection with nothing to write is not watched at all, so its hang-up is
    seen when it is resumed (the stalled peer drains or goes away).

    Reading ahead: the loop also stops reading a connection while more than ``MAX_READS_AHEAD``
    of its reads wait for the processing thread (``reads - reads_done``), so a producer faster
    than that thread cannot pile its input up in between. The loop sets ``reading_ahead`` before
    it looks at ``reads_done`` once more; the processing thread counts a read done before it
    looks at ``reading_ahead`` and, seeing it set with half the reads done, asks the loop to read
    again (``IOLoop.recheck``): one of the two always sees the other's write.
    """

    __slots__ = ("sock", "fd", "ip", "loop", "decoder", "renderer", "handshaking",
                 "wbuf", "pieces", "piece_bytes", "taken", "closing", "closed",
                 "paused", "reads", "reading_ahead", "read_wants_write", "peer", "handed",
                 "reads_done")

    def __init__(self, sock: socket.socket | TlsSocket, ip: str, loop: IOLoop,
                 max_packet_size: int, front_end: FrontEnd) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.ip = ip
        self.loop = loop
        #: The protocol's halves: bytes read -> events, and the core's replies -> bytes (None
        #: when the replies are the bytes, as in gear). gear's Decoder is named in the type so
        #: that the compiled loop calls it directly, any other decoder through the interface.
        self.decoder: Decoder | RequestDecoder
        self.renderer: Renderer | None
        self.decoder, self.renderer = front_end.open(max_packet_size)
        #: A TLS handshake is under way: the core does not know the connection yet.
        self.handshaking = front_end.tls is not None
        #: Output waiting to be written: ``wbuf`` first, then ``pieces`` (large fields, not
        #: copied, and whatever came after them), which hold ``piece_bytes``.
        self.wbuf = bytearray()
        self.pieces: deque[bytes | memoryview] = deque()
        self.piece_bytes = 0
        #: Bytes of hand-offs taken into ``wbuf`` (or written) since the loop last reported
        #: DRAINED.
        self.taken = 0
        #: Close once all output is written (the core asked for it).
        self.closing = False
        self.closed = False
        #: Not read from until the processing thread resumes it (its events are parked).
        self.paused = False
        #: Reads whose events went to the processing thread, and those it has handled.
        self.reads = 0
        self.reads_done = 0
        #: Not read from until the processing thread catches up with its reads.
        self.reading_ahead = False
        #: A TLS read stopped because the TLS layer must write first: read again once the
        #: socket is writable.
        self.read_wants_write = False
        self.peer: Peer | None = None
        #: Bytes handed to the loop not yet reported written: while any are, later output must
        #: follow them through the loop to keep its order.
        self.handed = 0
