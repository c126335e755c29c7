"""Listening sockets and accepted-socket options (as gearmand sets them)."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

log = logging.getLogger("gearmand_py.listener")


@dataclass(frozen=True)
class SocketOptions:
    """Options for accepted sockets; keepalive timings of -1 leave the OS values."""

    keepalive: bool = False
    keepalive_idle: int = -1
    keepalive_interval: int = -1
    keepalive_count: int = -1


def open_listeners(host: str | None, port: int, backlog: int) -> list[socket.socket]:
    """Bind every address ``host`` resolves to (all interfaces, IPv4 and IPv6, when None)."""
    infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                               socket.AI_PASSIVE)
    listeners: list[socket.socket] = []
    errors: list[str] = []
    seen = set()
    for family, kind, proto, _name, address in infos:
        if (family, address) in seen:
            continue
        seen.add((family, address))
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
        except OSError as exc:
            sock.close()
            errors.append(f"{address[0]}:{address[1]}: {exc.strerror or exc}")
            continue
        sock.setblocking(False)
        listeners.append(sock)
        log.log(25, "Listening on %s:%s", address[0], address[1])
    if not listeners:
        raise OSError(f"could not listen on port {port}: " + "; ".join(errors))
    return listeners


def configure_accepted(sock: socket.socket, options: SocketOptions) -> None:
    """TCP_NODELAY (lock-step workers crawl without it) and keepalive, as gearmand does; the
    keepalive timings go on accepted sockets, where they take effect (gearmand 2.0's fix)."""
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if options.keepalive:
        for name, value in (("TCP_KEEPIDLE", options.keepalive_idle),
                            ("TCP_KEEPINTVL", options.keepalive_interval),
                            ("TCP_KEEPCNT", options.keepalive_count)):
            if value >= 0 and hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
