"""One blocking connection to a server: packets out, ``ResponseDecoder`` events in.

Every socket operation has a timeout, so a server that stops answering surfaces as
``ConnectionLost`` instead of a hang; whatever goes wrong on the socket, the connection is closed
and the caller decides whether to retry elsewhere. The socket stays non-blocking and waits are
``poll`` calls made only when a send or receive would block: a socket timeout would cost an
ioctl per call to set it and a poll before every send.

Over TLS (an ``ssl_context``) the handshake is part of opening the connection and bounded by the
same timeout, so a server that accepts but never answers the handshake counts as down and the
caller fails over; TLS's would-block errors are waited out like TCP's, never taken for a dead
server. A receive drains what the TLS layer already decrypted (``pending``), so what ``poll``
cannot see is never left behind.
"""

from __future__ import annotations

import select
import socket
import ssl
import time

from gearmand_py.client.errors import ConnectionLost, CouldNotConnect, ProtocolError, TlsFailed
from gearmand_py.client.servers import Address
from gearmand_py.client.tls import WOULD_BLOCK, closed_after_handshake, describe
from gearmand_py.protocol.codec import ResponseDecoder, encode_request
from gearmand_py.protocol.events import Packet

#: How long a connect or a blocked send may take before the server counts as down.
CONNECT_TIMEOUT = 5.0
RECV_SIZE = 65536


def open_socket(address: Address, timeout: float,
                tls: ssl.SSLContext | None = None) -> socket.socket:
    """A connected non-blocking TCP socket with Nagle off (requests are small and
    latency-bound), with its TLS handshake done when ``tls`` is given."""
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except OSError as exc:
        raise CouldNotConnect(f"cannot connect to {address}: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock if tls is None else handshake(tls, sock, address, timeout)


def handshake(tls: ssl.SSLContext, sock: socket.socket, address: Address,
              timeout: float) -> ssl.SSLSocket:
    """``sock`` (non-blocking) over TLS, the server's certificate checked against the name in
    ``address``; ``ConnectionLost`` if the handshake fails or takes over ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    try:
        tls_sock = tls.wrap_socket(sock, server_hostname=address.host,
                                   do_handshake_on_connect=False)
    except (OSError, ValueError) as exc:
        sock.close()
        raise TlsFailed(f"{address}: TLS: {exc}") from exc
    while True:
        try:
            tls_sock.do_handshake()
            return tls_sock
        except ssl.SSLWantWriteError:
            event = select.POLLOUT
        except WOULD_BLOCK:
            event = select.POLLIN
        except OSError as exc:
            tls_sock.close()
            raise TlsFailed(f"{address}: TLS handshake failed: {describe(exc)}") from exc
        if not _wait(tls_sock, event, deadline - time.monotonic()):
            tls_sock.close()
            raise TlsFailed(f"{address}: TLS handshake not done within {timeout} s")


class Connection:
    """A binary-protocol connection; ``fileno`` lets several be polled together."""

    def __init__(self, address: Address, timeout: float = CONNECT_TIMEOUT,
                 tls: ssl.SSLContext | None = None) -> None:
        self.address = address
        self.timeout = timeout
        #: Whether the socket is an ``SSLSocket`` (whose ``pending`` data poll cannot see).
        self.tls = tls is not None
        self._sock: socket.socket | None = open_socket(address, timeout, tls)
        #: The socket's descriptor while open, -1 once closed (asked before every wait).
        self._fd = self._sock.fileno()
        self._decoder = ResponseDecoder()
        #: Whether the server ever sent a byte; why the connection failed, once it has.
        self.heard = False
        self.failure: ConnectionLost | None = None

    @property
    def closed(self) -> bool:
        return self._sock is None

    def fileno(self) -> int:
        return self._fd

    def send(self, ptype: int, *args: bytes) -> None:
        """Send one request packet."""
        self.send_raw(encode_request(ptype, *args))

    def send_raw(self, data: bytes) -> None:
        """Send packets already encoded (several joined into one write)."""
        sock = self._live()
        try:
            sent = sock.send(data)
            if sent == len(data):  # the usual case: all of it at once
                return
        except WOULD_BLOCK:
            sent = 0
        except OSError as exc:
            raise self._send_failed(sock, exc) from exc
        self._send_rest(sock, memoryview(data)[sent:])

    def _send_rest(self, sock: socket.socket, view: memoryview) -> None:
        """Send what the first send did not take, waiting up to the timeout for the socket to
        take it."""
        deadline = 0.0
        try:
            while view:
                try:
                    view = view[sock.send(view):]
                except WOULD_BLOCK as exc:
                    # A TLS write may need a read first (a key update): wait for what it needs.
                    event = select.POLLIN if isinstance(exc, ssl.SSLWantReadError) \
                        else select.POLLOUT
                    deadline = deadline or time.monotonic() + self.timeout
                    if not _wait(sock, event, deadline - time.monotonic()):
                        raise TimeoutError("timed out") from None
        except OSError as exc:
            raise self._send_failed(sock, exc) from exc

    def _send_failed(self, sock: socket.socket, exc: OSError) -> ConnectionLost:
        if not self.tls:
            return self._failed(f"send failed: {describe(exc)}")
        alert = tls_alert(sock)
        if alert is None and not self.heard:
            alert = closed_after_handshake(exc)
        return self._failed(f"send failed: {alert or describe(exc)}", bool(alert))

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
            except WOULD_BLOCK:
                data = self._recv_waiting(sock, self.timeout if timeout is None else timeout)
            if self.tls:
                data += self._drain(sock)
        except TimeoutError:
            raise
        except OSError as exc:
            raise self._failed(describe(exc), isinstance(exc, ssl.SSLError)) from exc
        if not data:
            raise self._failed("the server closed the connection")
        self.heard = True
        return data

    def _failed(self, reason: str, tls_error: bool = False) -> ConnectionLost:
        """Close, remember why, and the error to raise (``TlsFailed`` for an error of the TLS
        layer). A plain connection the server drops before answering anything is most likely
        one to a TLS server: say so."""
        if not self.heard and not self.tls:
            reason += " before answering anything (if it runs with --ssl, it needs TLS)"
        kind = TlsFailed if tls_error else ConnectionLost
        self.failure = kind(f"{self.address}: {reason}")
        self.close()
        return self.failure

    def _recv_waiting(self, sock: socket.socket, timeout: float) -> bytes:
        """Wait up to ``timeout`` for data. Over TLS a readable socket may bring only TLS's own
        records (session tickets), so waking is no promise of data: wait again, to the same
        deadline."""
        deadline = time.monotonic() + timeout
        event = select.POLLIN
        while _wait(sock, event, deadline - time.monotonic()):
            try:
                return sock.recv(RECV_SIZE)
            except ssl.SSLWantWriteError:
                event = select.POLLOUT
            except WOULD_BLOCK:
                event = select.POLLIN
        raise TimeoutError("timed out")

    @staticmethod
    def _drain(sock: socket.socket) -> bytes:
        """What the TLS layer decrypted beyond the last read (``pending``): poll would not
        report it, so it is taken now."""
        data = b""
        while pending := sock.pending():  # type: ignore[attr-defined]
            data += sock.recv(pending)
        return data

    def pending(self) -> bool:
        """Whether data is waiting inside the TLS layer, where poll cannot see it."""
        sock = self._sock
        return self.tls and sock is not None and sock.pending() > 0  # type: ignore[attr-defined]

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
            self._fd = -1

    def _live(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionLost(f"{self.address}: connection closed")
        return self._sock


def tls_alert(sock: socket.socket) -> str | None:
    """Why a TLS server dropped the connection, when it said so in an alert before closing (a
    client certificate refused after a TLS 1.3 handshake): a failed send does not read it."""
    try:
        sock.recv(1)
    except (ssl.SSLEOFError, *WOULD_BLOCK):
        return None
    except ssl.SSLError as exc:
        return describe(exc)
    except OSError:
        return None
    return None


def _wait(sock: socket.socket, event: int, timeout: float) -> bool:
    """Whether ``sock`` becomes ready for ``event`` (or fails) within ``timeout`` seconds."""
    if timeout <= 0:
        return False
    poller = select.poll()
    poller.register(sock, event)
    return bool(poller.poll(int(timeout * 1000) + 1))


class Poller:
    """Waits for several connections at once. The poll object is kept while the connections
    and their descriptors stay the same, as they do from job to job: registering them anew for
    every wait cost more than the wait's own system call."""

    __slots__ = ("_poll", "_key", "_by_fd", "_tls")

    def __init__(self) -> None:
        self._poll = select.poll()
        self._key: list[tuple[Connection, int]] = []
        self._by_fd: dict[int, Connection] = {}
        #: Whether any of them is TLS, whose decrypted data poll cannot see.
        self._tls = False

    def readable(self, conns: list[Connection], timeout: float | None) -> list[Connection]:
        """The connections among ``conns`` with data (or EOF) to read within ``timeout``
        seconds (None: wait indefinitely)."""
        key = [(conn, conn.fileno()) for conn in conns]
        if key != self._key:
            self._register(key)
        if not self._by_fd:
            if timeout:
                time.sleep(timeout)
            return []
        if self._tls:
            decrypted = [conn for conn in conns if conn.pending()]
            if decrypted:
                return decrypted
        events = self._poll.poll(None if timeout is None else max(0, int(timeout * 1000) + 1))
        by_fd = self._by_fd
        return [by_fd[fd] for fd, _ in events]

    def _register(self, key: list[tuple[Connection, int]]) -> None:
        self._poll = select.poll()
        self._by_fd = {fd: conn for conn, fd in key if fd >= 0}
        for fd in self._by_fd:
            self._poll.register(fd, select.POLLIN)
        self._tls = any(conn.tls for conn in self._by_fd.values())
        self._key = key
