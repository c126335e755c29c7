"""The listening sockets, typed by what they speak, bound from the settings' specs or taken
from systemd. TLS and HTTP listeners will be more specs and protocols on the same list."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

from gearmand_py.process.errors import SetupError
from gearmand_py.server.listener import endpoint, open_listeners
from gearmand_py.settings import ListenerSpec


@dataclass(frozen=True)
class Listener:
    """One listening socket and the protocol its connections speak."""

    protocol: str
    sock: socket.socket

    def address(self) -> str:
        """``host:port`` (``[v6]:port``), or the path of a Unix socket."""
        if self.sock.family in (socket.AF_INET, socket.AF_INET6):
            return endpoint(self.sock.family, self.sock.getsockname())
        return str(self.sock.getsockname())


def bind(specs: Iterable[ListenerSpec], backlog: int) -> list[Listener]:
    """Every spec bound on every address it resolves to. Raises SetupError, with nothing left
    bound."""
    listeners: list[Listener] = []
    try:
        for spec in specs:
            listeners += [Listener(spec.protocol, sock)
                          for sock in open_listeners(spec.host, spec.port, backlog)]
    except (OSError, ValueError) as exc:
        close(listeners)
        raise SetupError(str(exc)) from None
    return listeners


def inherited(sockets: Iterable[socket.socket]) -> list[Listener]:
    """Sockets systemd passed: all speak the Gearman protocol for now."""
    return [Listener("gear", sock) for sock in sockets]


def close(listeners: Iterable[Listener]) -> None:
    for listener in listeners:
        listener.sock.close()


def describe(listeners: Iterable[Listener]) -> str:
    """``gear 127.0.0.1:4730, gear [::1]:4730`` for the startup line."""
    return ", ".join(f"{l.protocol} {l.address()}" for l in listeners)
