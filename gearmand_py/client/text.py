"""The text admin protocol from the client side: send a command line, read its reply.

gearmand answers a list command (``status``, ``workers``, ...) with lines ended by ``.\\n`` and
anything else with one line; an ``ERR`` line ends any reply. Replies are returned as the server
sent them, line endings included, so a tool can print them byte for byte.
"""

from __future__ import annotations

import ssl

from gearmand_py.client.connection import CONNECT_TIMEOUT, Connection
from gearmand_py.client.errors import ConnectionLost
from gearmand_py.client.servers import Address
from gearmand_py.protocol.admin import LIST_END
from gearmand_py.protocol.codec import ResponseDecoder
from gearmand_py.protocol.events import Packet
from gearmand_py.protocol.packets import HEADER_SIZE, NUMBERS

LIST_COMMANDS = frozenset({b"status", b"workers", b"prioritystatus", b"show"})


class TextConnection:
    """One connection for admin commands (and ECHO, which shares the port)."""

    def __init__(self, address: Address, timeout: float = CONNECT_TIMEOUT,
                 tls: ssl.SSLContext | None = None) -> None:
        self.address = address
        self.timeout = timeout
        self._conn = Connection(address, timeout, tls)
        self._buf = bytearray()

    def command(self, line: bytes) -> list[bytes]:
        """Send ``line`` and return the reply's lines, each with its line ending."""
        self._conn.send_raw(line + b"\r\n")
        first = self._line()
        if line.split(b" ", 1)[0] not in LIST_COMMANDS or first.startswith(b"ERR "):
            return [first]
        lines = [first]
        while lines[-1] != LIST_END:
            lines.append(self._line())
        return lines

    def echo(self, data: bytes) -> Packet:
        """Send ECHO_REQ and return the server's reply packet."""
        self._conn.send(NUMBERS.ECHO_REQ, data)
        while len(self._buf) < HEADER_SIZE:
            self._fill()
        size = int.from_bytes(self._buf[8:HEADER_SIZE], "big")
        while len(self._buf) < HEADER_SIZE + size:
            self._fill()
        events = ResponseDecoder().feed(bytes(self._buf[:HEADER_SIZE + size]))
        del self._buf[:HEADER_SIZE + size]
        return events[0]  # type: ignore[return-value]

    def close(self) -> None:
        self._conn.close()

    def _line(self) -> bytes:
        while (nl := self._buf.find(b"\n")) < 0:
            self._fill()
        line = bytes(self._buf[:nl + 1])
        del self._buf[:nl + 1]
        return line

    def _fill(self) -> None:
        """More of the reply; a server that sends nothing in time counts as lost."""
        try:
            self._buf += self._conn.recv_bytes(None)
        except TimeoutError as exc:
            self._conn.close()
            raise ConnectionLost(f"{self.address}: {exc}") from exc
