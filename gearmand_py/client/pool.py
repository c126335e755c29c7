"""One connection per configured server, opened on demand, with backoff for servers that are
down: after a failed connect or a lost connection a server is not tried again until its delay
has passed, and the delay doubles (with jitter, so restarted servers are not hit by every
worker at once) up to ``MAX_DELAY``; a successful connect resets it. A failed TLS handshake is a
failed connect."""

from __future__ import annotations

import random
import ssl
import time

from gearmand_py.client.connection import CONNECT_TIMEOUT, Connection
from gearmand_py.client.errors import ConnectionLost
from gearmand_py.client.servers import Address

FIRST_DELAY = 0.1
MAX_DELAY = 5.0


class StillDown(ConnectionLost):
    """The server failed recently and its backoff delay has not passed: it was not tried."""


class Pool:
    """The connections of one client or worker, indexed like ``addresses``."""

    def __init__(self, addresses: list[Address], timeout: float = CONNECT_TIMEOUT,
                 tls: ssl.SSLContext | None = None) -> None:
        self.addresses = addresses
        self.timeout = timeout
        #: Every connection's TLS context; None: plain TCP.
        self.tls = tls
        self._conns: list[Connection | None] = [None] * len(addresses)
        self._retry_at = [0.0] * len(addresses)
        self._delay = [0.0] * len(addresses)

    def __len__(self) -> int:
        return len(self.addresses)

    def connection(self, index: int, force: bool = False) -> Connection:
        """The open connection to server ``index``, connecting if needed; a server in its
        backoff delay raises ``StillDown`` at once unless ``force``; a failed attempt raises
        ``ConnectionLost`` (``TlsFailed`` for a failed handshake)."""
        conn = self._conns[index]
        if conn is not None and not conn.closed:
            return conn
        if not force and time.monotonic() < self._retry_at[index]:
            raise StillDown(f"{self.addresses[index]} is down")
        try:
            conn = Connection(self.addresses[index], self.timeout, self.tls)
        except ConnectionLost:
            self._back_off(index)
            raise
        self._conns[index] = conn
        self._delay[index] = 0.0
        return conn

    def lost(self, conn: Connection) -> None:
        """``conn`` failed: close it and hold its server back for a while."""
        conn.close()
        for index, known in enumerate(self._conns):
            if known is conn:
                self._conns[index] = None
                self._back_off(index)

    def next_retry(self) -> float | None:
        """Seconds until the earliest server that is down may be tried again; None if none is
        down."""
        waits = [at for conn, at in zip(self._conns, self._retry_at)
                 if conn is None or conn.closed]
        return max(0.0, min(waits) - time.monotonic()) if waits else None

    def close(self) -> None:
        for conn in self._conns:
            if conn is not None:
                conn.close()
        self._conns = [None] * len(self.addresses)

    def _back_off(self, index: int) -> None:
        delay = min(MAX_DELAY, max(FIRST_DELAY, self._delay[index] * 2))
        self._delay[index] = delay
        self._retry_at[index] = time.monotonic() + delay * random.uniform(1.0, 1.25)
