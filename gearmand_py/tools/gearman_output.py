"""gearman's output as its C stdio produces it, and libgearman's error lines.

gearman writes job data with ``write(2)`` straight to the descriptor but prints ``Task created``
and ``N% Complete`` with stdio, which is fully buffered on a pipe or file: those lines appear
when a ``-P`` prefix flushes stdout, or at exit. ``Stdout`` keeps the two paths apart so the
bytes come out in the same order as gearman's (line-buffered on a terminal, as stdio is).
"""

from __future__ import annotations

import os

from gearmand_py.client.servers import Address


class Stdout:
    """stdio's ``stdout`` buffer next to raw writes to descriptor 1."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._line_buffered = os.isatty(1)

    def printf(self, text: bytes) -> None:
        self._buffer += text
        if self._line_buffered and b"\n" in text:
            self.fflush()

    def fflush(self) -> None:
        write_all(1, bytes(self._buffer))
        self._buffer.clear()

    def write(self, data: bytes) -> None:
        write_all(1, data)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def stderr(text: str) -> None:
    """Unbuffered, as C's stderr and ``std::cerr`` are."""
    write_all(2, text.encode("utf-8", "surrogateescape"))


def message(label: str, error: str) -> None:
    """``error::message(label, client)``: the label, then libgearman's last error."""
    stderr(f"gearman: {label} : {error}\n")


def perror(label: str, exc: OSError) -> None:
    stderr(f"gearman: {label} ({os.strerror(exc.errno or 0)})\n")


def _pid() -> str:
    return f"pid({os.getpid()})"


def could_not_connect(address: Address) -> str:
    return (f"flush(GEARMAN_COULD_NOT_CONNECT) Connection to {address} failed"
            f" -> libgearman/connection.cc:724: {_pid()}")


def timed_out(servers: int, worker: bool) -> str:
    return (f"gearman_wait(GEARMAN_TIMEOUT) timeout reached, {servers} servers were poll(),"
            f" no servers were available, pipe:{'true' if worker else 'false'}"
            f" -> libgearman/universal.cc:346: {_pid()}")


def unresolvable(address: Address, reason: str) -> str:
    return f"{address} getaddrinfo:{reason} {_pid()}"
