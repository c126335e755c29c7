"""``GearmanAdminClient``: python-gearman 2.0.2's admin client, one blocking call per command,
each bounded by ``poll_timeout``; replies parsed into the same dicts python-gearman returns."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from typing import Any

from gearmand_py.client.errors import InvalidAdminClientState, ProtocolError
from gearmand_py.client.servers import parse_addresses
from gearmand_py.client.text import TextConnection
from gearmand_py.protocol.packets import NUMBERS

DEFAULT_ADMIN_CLIENT_TIMEOUT = 10.0
ECHO_STRING = b"ping? pong!"


class GearmanAdminClient:
    """Admin commands to the first server of ``host_list``."""

    def __init__(self, host_list: Iterable[Any] | None = None,
                 poll_timeout: float = DEFAULT_ADMIN_CLIENT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        """``ssl_context`` (e.g. from ``tls_context``): the connection is TLS."""
        self.address = parse_addresses(host_list)[0]
        self.poll_timeout = poll_timeout
        self.ssl_context = ssl_context
        self._conn: TextConnection | None = None

    def ping_server(self) -> float:
        """Seconds an ECHO round trip took."""
        start = time.time()
        ptype, args = self._connection().echo(ECHO_STRING)
        if ptype != NUMBERS.ECHO_RES or args != (ECHO_STRING,):
            raise InvalidAdminClientState(f"Echo string mismatch: got {args!r}")
        return time.time() - start

    def send_maxqueue(self, task: str, max_size: int) -> str:
        return self._ok(f"maxqueue {task} {max_size}")

    def send_shutdown(self, graceful: bool = True) -> None:
        self._single("shutdown graceful" if graceful else "shutdown")

    def get_status(self) -> tuple[dict[str, Any], ...]:
        return tuple({"task": task, "queued": int(queued), "running": int(running),
                      "workers": int(workers)}
                     for task, queued, running, workers in self._rows("status", 4))

    def get_version(self) -> str:
        return self._single("version")

    def get_workers(self) -> tuple[dict[str, Any], ...]:
        workers = []
        for line in self._list("workers"):
            tokens = line.split(" ")
            if len(tokens) < 4 or tokens[3] != ":":
                raise ProtocolError(f"Malformed worker response: {tokens!r}")
            workers.append({"file_descriptor": tokens[0], "ip": tokens[1],
                            "client_id": tokens[2], "tasks": tuple(t for t in tokens[4:] if t)})
        return tuple(workers)

    def get_pid(self) -> str:
        return self._single("getpid")

    def cancel_job(self, handle: str) -> str:
        return self._single(f"cancel job {handle}")

    def get_jobs(self) -> tuple[dict[str, Any], ...]:
        return tuple({"handle": handle, "queued": int(queued), "canceled": int(canceled),
                      "enabled": int(enabled)}
                     for handle, queued, canceled, enabled in self._rows("show jobs", 4))

    def get_unique_jobs(self) -> tuple[dict[str, Any], ...]:
        return tuple({"unique": line} for line in self._list("show unique jobs"))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> TextConnection:
        if self._conn is None:
            self._conn = TextConnection(self.address, self.poll_timeout, self.ssl_context)
        return self._conn

    def _lines(self, command: str) -> list[str]:
        lines = self._connection().command(command.encode())
        text = [line.decode("utf-8", "surrogateescape").rstrip("\r\n") for line in lines]
        if text[0].startswith("ERR "):
            raise ProtocolError(f"{command!r}: {text[0]}")
        return text

    def _single(self, command: str) -> str:
        line = self._lines(command)[0]
        return line[3:] if line.startswith("OK ") else line

    def _ok(self, command: str) -> str:
        line = self._lines(command)[0]
        if line != "OK":
            raise ProtocolError(f"Expected 'OK', received: {line}")
        return line

    def _list(self, command: str) -> list[str]:
        return self._lines(command)[:-1]

    def _rows(self, command: str, fields: int) -> list[list[str]]:
        rows = [line.split("\t") for line in self._list(command)]
        for row in rows:
            if len(row) != fields:
                raise ProtocolError(f"Received {len(row)} tokens, expected {fields}: {row!r}")
        return rows
