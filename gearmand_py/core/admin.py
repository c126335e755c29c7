"""The text admin commands, answered from the processing core's tables.

Command words are matched case-insensitively; replies are built with ``protocol.admin`` so their
bytes (and gearmand's inconsistent line endings) live in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gearmand_py.core.engine import Engine
from gearmand_py.core.model import Peer
from gearmand_py.protocol import admin as reply


@dataclass(frozen=True)
class ServerInfo:
    """What ``version``, ``getpid`` and ``verbose`` report."""

    version: bytes
    pid: int
    verbose: Callable[[], str]


def status(engine: Engine) -> bytes:
    """``FUNC\\tTOTAL\\tRUNNING\\tWORKERS`` for every function ever referenced."""
    return reply.listing(
        reply.tab_row(f.name, b"%d" % f.job_total, b"%d" % f.job_running, b"%d" % len(f.workers))
        for f in engine.functions.values())


def workers(engine: Engine) -> bytes:
    """``FD IP ID : FUNCTIONS`` for every connection, newest first (admin connections too)."""
    lines = []
    for peer in reversed(engine.peers.values()):
        names = b"".join(b" " + f.name for f in peer.functions)
        lines.append(b"%d %s %s :%s" % (peer.fd, peer.ip.encode(), peer.client_id, names))
    return reply.listing(lines)


class Admin:
    """Answers one admin line with the bytes gearmand would send."""

    def __init__(self, info: ServerInfo) -> None:
        self.info = info

    def __call__(self, engine: Engine, peer: Peer, tokens: tuple[bytes, ...]) -> bytes:
        word = tokens[0].lower()
        if word == b"status":
            return status(engine)
        if word == b"workers":
            return workers(engine)
        if word == b"version":
            return reply.ok_value(self.info.version)
        if word == b"getpid":
            return reply.ok_value(b"%d" % self.info.pid)
        if word == b"verbose":
            return reply.ok_value(self.info.verbose().encode())
        return reply.err_unknown_command(tokens[0])
