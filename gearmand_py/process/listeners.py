"""The listening sockets, each with what it speaks, bound from the settings' specs or taken
from systemd."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from gearmand_py.process.errors import SetupError
from gearmand_py.server.frontend import FrontEnd
from gearmand_py.server.listener import Listener, open_listeners
from gearmand_py.settings import ListenerSpec

if TYPE_CHECKING:
    import ssl


def front_end(spec: ListenerSpec, tls: ssl.SSLContext | None) -> FrontEnd:
    return FrontEnd(spec.protocol, tls if spec.tls else None)


def bind(specs: Iterable[ListenerSpec], backlog: int,
         tls: ssl.SSLContext | None) -> list[Listener]:
    """Every spec bound on every address it resolves to. Raises SetupError, with nothing left
    bound."""
    listeners: list[Listener] = []
    try:
        for spec in specs:
            listeners += [Listener(front_end(spec, tls), sock)
                          for sock in open_listeners(spec.host, spec.port, backlog,
                                                     spec.port_flag)]
    except (OSError, ValueError) as exc:
        close(listeners)
        raise SetupError(str(exc)) from None
    return listeners


def inherited(sockets: Iterable[socket.socket], specs: Sequence[ListenerSpec],
              tls: ssl.SSLContext | None) -> list[Listener]:
    """Sockets systemd passed: each speaks what the spec of its port says, or the first spec's
    (gear) when no spec has its port; a further spec (HTTP) with no socket is an error, not a
    listener silently missing."""
    sockets = list(sockets)
    ports = {sock.getsockname()[1] for sock in sockets}  # inherited_sockets passes TCP only
    for spec in specs[1:]:
        if spec.port not in ports:
            raise SetupError(f"{spec.port_flag} {spec.port}: systemd passed no socket for it "
                             "(add a ListenStream= for that port to the .socket unit)")
    by_port = {spec.port: spec for spec in reversed(specs)}
    return [Listener(front_end(by_port.get(sock.getsockname()[1], specs[0]), tls), sock)
            for sock in sockets]


def take_monitor_socket(sockets: list[socket.socket], host: str,
                        port: int) -> socket.socket | None:
    """The socket systemd passed for the monitor's ``host``:``port``, taken out of ``sockets``;
    None when it passed none for that port. One on that port at another address is an error:
    the monitor is served only where --monitor-listen says (job names are not for everyone),
    and gear is not served on the monitor's port."""
    for sock in sockets:
        address, bound_port = sock.getsockname()[:2]
        if bound_port != port:
            continue
        if _same_address(address, host, port):
            sockets.remove(sock)
            return sock
        raise SetupError(f"socket activation: systemd passed a socket on {address} port {port}, "
                         f"the monitor port, but --monitor-listen is {host} (make the "
                         "ListenStream= of that port and --monitor-listen agree)")
    return None


def _same_address(address: str, host: str, port: int) -> bool:
    """Whether a socket bound to ``address`` listens where ``host`` (a name or an address)
    says; all addresses of either family are the same (a dual-stack socket is both)."""
    try:
        wanted = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except OSError:
        return False
    return _normal(address) in {_normal(a) for a in wanted}


def _normal(address: str) -> str:
    ip = ipaddress.ip_address(address.split("%")[0])
    return "*" if ip.is_unspecified else str(ip)


def close(listeners: Iterable[Listener]) -> None:
    for listener in listeners:
        listener.sock.close()


def describe(listeners: Iterable[Listener]) -> str:
    """``gear 127.0.0.1:4730, gear+tls [::1]:4730`` for the startup line."""
    return ", ".join(f"{l.front_end.name} {l.address()}" for l in listeners)
