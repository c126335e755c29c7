"""Server addresses, and which server a job goes to.

A job's unique is hashed onto the configured list (not onto the servers that happen to be up),
so every client with the same list sends the same unique to the same server and coalescing
holds; when that server is down the job fails over to the next ones in list order.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import NamedTuple

DEFAULT_PORT = 4730


class Address(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_address(spec: str | tuple[str, int], default_port: int = DEFAULT_PORT) -> Address:
    """``host``, ``host:port``, ``[v6]:port`` or a ``(host, port)`` pair."""
    if isinstance(spec, tuple):
        return Address(spec[0], int(spec[1]))
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        return Address(host, int(rest[1:]) if rest.startswith(":") else default_port)
    if spec.count(":") == 1:
        host, port = spec.split(":")
        return Address(host or "localhost", int(port) if port else default_port)
    return Address(spec, default_port)


def parse_addresses(specs: Iterable[str | tuple[str, int]] | None) -> list[Address]:
    """The host list python-gearman takes; none at all means ``localhost:4730``."""
    addresses = [parse_address(spec) for spec in specs or ()]
    return addresses or [Address("localhost", DEFAULT_PORT)]


def order_for(unique: bytes, count: int) -> list[int]:
    """The server indexes to try for ``unique``: its hashed server first, then the next ones."""
    first = zlib.crc32(unique) % count
    return [(first + step) % count for step in range(count)]

