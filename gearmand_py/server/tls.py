"""A TLS connection's socket, safe to use from the I/O thread and the processing thread.

An ``SSLSocket`` must not be used by two threads at once: its reads may write (TLS 1.3 session
tickets, key updates) and its writes keep state between a would-block and the retry. The server's
rule for plain sockets (the I/O thread reads; the processing thread writes what the socket takes
at once) holds for TLS too, with every call on the ``SSLSocket`` made under one lock per
connection. The calls are non-blocking, so the lock is held for microseconds; the alternative,
handing every TLS reply to the I/O thread, costs a thread wake-up per reply.

The handshake runs in the I/O loop without blocking it (``do_handshake`` answers would-block),
before the processing thread knows the connection. ``ssl``'s want-read and want-write errors
leave as ``wouldblock``'s (``BlockingIOError`` and ``WantWrite``), so only this module, loaded
with the first TLS connection, needs ``ssl``.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

from gearmand_py.server.wouldblock import WantWrite


class TlsSocket:
    """The parts of ``SSLSocket`` the server uses, each under the connection's lock."""

    __slots__ = ("_sock", "_lock", "_fd")

    def __init__(self, context: ssl.SSLContext, sock: socket.socket) -> None:
        self._sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self._lock = threading.Lock()
        self._fd = self._sock.fileno()

    def fileno(self) -> int:
        return self._fd

    def do_handshake(self) -> None:
        with self._lock:
            try:
                self._sock.do_handshake()
            except ssl.SSLWantReadError:
                raise BlockingIOError from None
            except ssl.SSLWantWriteError:
                raise WantWrite from None

    def recv(self, size: int) -> bytes:
        """TLS renegotiation is off (``process.tls``), so a read waits for a write only when the
        socket did not take a session ticket or key update at once."""
        with self._lock:
            try:
                return self._sock.recv(size)
            except ssl.SSLWantReadError:
                raise BlockingIOError from None
            except ssl.SSLWantWriteError:
                raise WantWrite from None

    def pending(self) -> int:
        """Bytes already decrypted inside the TLS layer, which the selector cannot see."""
        with self._lock:
            return self._sock.pending()

    def send(self, data: Any) -> int:
        with self._lock:
            try:
                return self._sock.send(data)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                raise BlockingIOError from None

    def close(self) -> None:
        with self._lock:
            self._sock.close()

    def getsockopt(self, level: int, option: int, buflen: int) -> bytes:
        """The TCP socket's options (``wire`` reads its byte counts); needs no TLS state."""
        return self._sock.getsockopt(level, option, buflen)

    def describe(self) -> str:
        """``TLSv1.3, TLS_AES_256_GCM_SHA384`` and the client certificate's subject, if any."""
        with self._lock:
            text = f"{self._sock.version()}, {self._sock.cipher()[0]}"
            cert = self._sock.getpeercert()
        if cert:
            subject = ",".join(f"{key}={value}" for rdn in cert.get("subject", ())
                               for key, value in rdn)
            text += f", client certificate {subject}"
        return text
