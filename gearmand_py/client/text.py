"""The text admin protocol from the client side: send a command line, read its reply.

gearmand answers a list command (``status``, ``workers``, ...) with lines ended by ``.\\n`` and
anything else with one line; an ``ERR`` line ends any reply. Replies are returned as the server
sent them, line endings included, so a tool can print them byte for byte.
"""

from __future__ import annotations

import socket

from gearmand_py.client.connection import CONNECT_TIMEOUT, open_socket
from gearmand_py.client.errors import ConnectionLost
from gearmand_py.client.servers import Address
from gearmand_py.protocol.codec import ResponseDecoder, encode_request
from gearmand_py.protocol.events import Packet
from gearmand_py.protocol.packets import HEADER_SIZE, NUMBERS

LIST_COMMANDS = frozenset({b"status", b"workers", b"prioritystatus", b"show"})
LIST_END = b".\n"


class TextConnection:
    """One connection for admin commands (and ECHO, which shares the port)."""

    def __init__(self, address: Address, timeout: float = CONNECT_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self._sock: socket.socket = open_socket(address, timeout)
        self._sock.settimeout(timeout)
        self._buf = bytearray()

    def command(self, line: bytes) -> list[bytes]:
        """Send ``line`` and return the reply's lines, each with its line ending."""
        self._send(line + b"\r\n")
        first = self._line()
        if line.split(b" ", 1)[0] not in LIST_COMMANDS or first.startswith(b"ERR "):
            return [first]
        lines = [first]
        while lines[-1] != LIST_END:
            lines.append(self._line())
        return lines

    def echo(self, data: bytes) -> Packet:
        """Send ECHO_REQ and return the server's reply packet."""
        self._send(encode_request(NUMBERS.ECHO_REQ, data))
        while len(self._buf) < HEADER_SIZE:
            self._fill()
        size = int.from_bytes(self._buf[8:HEADER_SIZE], "big")
        while len(self._buf) < HEADER_SIZE + size:
            self._fill()
        events = ResponseDecoder().feed(bytes(self._buf[:HEADER_SIZE + size]))
        del self._buf[:HEADER_SIZE + size]
        return events[0]  # type: ignore[return-value]

    def close(self) -> None:
        self._sock.close()

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise ConnectionLost(f"{self.address}: send failed: {exc}") from exc

    def _line(self) -> bytes:
        while (nl := self._buf.find(b"\n")) < 0:
            self._fill()
        line = bytes(self._buf[:nl + 1])
        del self._buf[:nl + 1]
        return line

    def _fill(self) -> None:
        try:
            chunk = self._sock.recv(65536)
        except OSError as exc:
            raise ConnectionLost(f"{self.address}: {exc}") from exc
        if not chunk:
            raise ConnectionLost(f"{self.address} closed the connection")
        self._buf += chunk
