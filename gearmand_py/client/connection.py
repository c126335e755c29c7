"""One blocking connection to a server: packets out, ``ResponseDecoder`` events in.

Every socket operation has a timeout, so a server that stops answering surfaces as
``ConnectionLost`` instead of a hang; whatever goes wrong on the socket, the connection is closed
and the caller decides whether to retry elsewhere. The socket stays non-blocking and waits are
``poll`` calls made only when a send or receive would block: a socket timeout would cost an
ioctl per call to set it and a poll before every send.
"""

from __future__ import annotations

import select
import socket
import time

from gearmand_py.client.errors import ConnectionLost, ProtocolError
from gearmand_py.client.servers import Address
from gearmand_py.protocol.codec import ResponseDecoder, encode_request
from gearmand_py.protocol.events import Packet

#: How long a connect or a blocked send may take before the server counts as down.
CONNECT_TIMEOUT = 5.0
RECV_SIZE = 65536


def open_socket(address: Address, timeout: float) -> socket.socket:
    """A connected TCP socket with Nagle off (requests are small and latency-bound)."""
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except OSError as exc:
        raise ConnectionLost(f"cannot connect to {address}: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


class Connection:
    """A binary-protocol connection; ``fileno`` lets several be polled together."""

    def __init__(self, address: Address, timeout: float = CONNECT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self._sock: socket.socket | None = open_socket(address, timeout)
        self._decoder = ResponseDecoder()

    @property
    def closed(self) -> bool:
        return self._sock is None

    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def send(self, ptype: int, *args: bytes) -> None:
        """Send one request packet."""
        self.send_raw(encode_request(ptype, *args))

    def send_raw(self, data: bytes) -> None:
        """Send packets already encoded (several joined into one write)."""
        sock = self._live()
        view = memoryview(data)
        deadline = 0.0
        try:
            while view:
                try:
                    view = view[sock.send(view):]
                except BlockingIOError:
                    deadline = deadline or time.monotonic() + self.timeout
                    if not _wait(sock, select.POLLOUT, deadline - time.monotonic()):
                        raise TimeoutError("timed out") from None
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"{self.address}: send failed: {exc}") from exc

    def receive(self, timeout: float | None) -> list[Packet]:
        """Wait up to ``timeout`` (None: the connection's own) for data; return the packets it
        completes, possibly none. EOF, a socket error or a protocol error close the connection
        and raise ``ConnectionLost`` or ``ProtocolError``."""
        try:
            data = self.recv_bytes(timeout)
        except TimeoutError:
            return []
        return self.decode(data)

    def recv_bytes(self, timeout: float | None) -> bytes:
        """Whatever arrives within ``timeout`` (None: the connection's own), undecoded;
        TimeoutError when nothing does. EOF or a socket error close the connection and raise
        ``ConnectionLost``."""
        sock = self._live()
        try:
            try:
                data = sock.recv(RECV_SIZE)
            except BlockingIOError:
                if not _wait(sock, select.POLLIN, self.timeout if timeout is None else timeout):
                    raise TimeoutError("timed out") from None
                try:
                    data = sock.recv(RECV_SIZE)
                except BlockingIOError:  # woken for nothing: as good as a timeout
                    raise TimeoutError("timed out") from None
        except TimeoutError:
            raise
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"{self.address}: {exc}") from exc
        if not data:
            self.close()
            raise ConnectionLost(f"{self.address} closed the connection")
        return data

    def decode(self, data: bytes) -> list[Packet]:
        """Packets from ``data``; anything but a well-formed response packet is the server
        breaking the protocol, and ends the connection."""
        packets = []
        for event in self._decoder.feed(data):
            if event.__class__ is not tuple:
                self.close()
                raise ProtocolError(f"{self.address} sent {event!r}")
            packets.append(event)
        return packets  # type: ignore[return-value]

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _live(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionLost(f"{self.address}: connection closed")
        return self._sock


def _wait(sock: socket.socket, event: int, timeout: float) -> bool:
    """Whether ``sock`` becomes ready for ``event`` (or fails) within ``timeout`` seconds."""
    if timeout <= 0:
        return False
    poller = select.poll()
    poller.register(sock, event)
    return bool(poller.poll(int(timeout * 1000) + 1))


def readable(conns: list[Connection], timeout: float | None) -> list[Connection]:
    """The connections among ``conns`` with data (or EOF) to read within ``timeout`` seconds
    (None: wait indefinitely)."""
    poller = select.poll()
    by_fd = {}
    for conn in conns:
        fd = conn.fileno()
        if fd >= 0:
            by_fd[fd] = conn
            poller.register(fd, select.POLLIN)
    if not by_fd:
        if timeout:
            time.sleep(timeout)
        return []
    events = poller.poll(None if timeout is None else max(0, int(timeout * 1000) + 1))
    return [by_fd[fd] for fd, _ in events]
