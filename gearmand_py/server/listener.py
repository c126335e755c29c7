"""Listening sockets and accepted-socket options (as gearmand sets them)."""

from __future__ import annotations

import errno
import logging
import socket
from dataclasses import dataclass

from gearmand_py import logs
from gearmand_py.server.frontend import FrontEnd

log = logging.getLogger("gearmand_py.listener")


@dataclass(frozen=True)
class SocketOptions:
    """Options for accepted sockets; keepalive timings of -1 leave the OS values."""

    keepalive: bool = False
    keepalive_idle: int = -1
    keepalive_interval: int = -1
    keepalive_count: int = -1


@dataclass(frozen=True)
class Listener:
    """One listening socket and what its connections speak."""

    front_end: FrontEnd
    sock: socket.socket

    def address(self) -> str:
        """``host:port`` (``[v6]:port``), or the path of a Unix socket."""
        if self.sock.family in (socket.AF_INET, socket.AF_INET6):
            return endpoint(self.sock.family, self.sock.getsockname())
        return str(self.sock.getsockname())


class ListenError(OSError):
    """The server cannot listen where it was asked to. The message names the options (-L, -p),
    the addresses and why, as the one line startup prints."""


#: What to add to the system's words for the bind errors a new user meets.
BIND_HINTS = {
    errno.EADDRNOTAVAIL: "not an address of this machine",
    errno.EADDRINUSE: "another process listens there",
}


#: Bind errors that are about the port, not the address, and so stop the server even when
#: another address was bound: serving on [::]:4730 alone while another process holds
#: 0.0.0.0:4730 would send IPv4 clients there. (gearmand stops on any bind error.)
FATAL_BIND_ERRORS = frozenset({errno.EADDRINUSE, errno.EACCES})


def open_listeners(host: str | None, port: int, backlog: int,
                   port_flag: str = "-p") -> list[socket.socket]:
    """Bind every address ``host`` resolves to (all interfaces, IPv4 and IPv6, when None).
    An address this machine cannot use (no IPv6, say) is logged and skipped while another one
    works; a port in use or not permitted, or no address at all, is ListenError, which names
    the options (``port_flag`` is the one that set the port)."""
    options = f"-L {host} {port_flag} {port}" if host else f"{port_flag} {port}"
    try:
        infos = socket.getaddrinfo(host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                   socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(f"-L {host}: cannot resolve host ({exc.strerror})") from None
    except UnicodeError as exc:  # a name the IDNA codec refuses, e.g. a label over 63 bytes
        raise ListenError(f"-L {host}: not a valid host name ({exc})") from None
    listeners: list[socket.socket] = []
    errors: dict[str, list[str]] = {}  # why -> the addresses that failed so
    fatal = False
    seen = set()
    for family, kind, proto, _name, address in infos:
        if (family, address) in seen:
            continue
        seen.add((family, address))
        try:
            sock = _listen(family, kind, proto, address, backlog)
        except OSError as exc:
            errors.setdefault(bind_error(exc, port), []).append(endpoint(family, address))
            fatal = fatal or exc.errno in FATAL_BIND_ERRORS
            continue
        listeners.append(sock)
    failures = "; ".join(f"{', '.join(where)} ({why})" for why, where in errors.items())
    if fatal or not listeners:
        for sock in listeners:
            sock.close()
        raise ListenError(f"{options}: cannot listen on {failures}")
    if failures:
        log.warning("%s: not listening on %s", options, failures)
    for sock in listeners:
        log.log(logs.NOTICE, "Listening on %s", endpoint(sock.family, sock.getsockname()))
    return listeners


def _listen(family: int, kind: int, proto: int, address: tuple, backlog: int) -> socket.socket:
    """One non-blocking listening socket (IPv6 sockets IPv6 only: IPv4 has its own)."""
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_error(exc: OSError, port: int) -> str:
    """The system's words for a failed bind or listen, with a hint for the usual causes."""
    why = exc.strerror or str(exc)
    if exc.errno == errno.EACCES and port < 1024:
        return f"{why}: ports below 1024 need root"
    hint = BIND_HINTS.get(exc.errno or 0)
    return f"{why}: {hint}" if hint else why


def endpoint(family: int, address: tuple) -> str:
    """``host:port``, with brackets around an IPv6 host."""
    if family == socket.AF_INET6:
        return f"[{address[0]}]:{address[1]}"
    return f"{address[0]}:{address[1]}"


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
