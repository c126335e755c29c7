"""The acceptor on real sockets: one wake-up of the accepting thread takes every connection the
kernel has queued (it took at most 64 before, so a full queue of 4096 needed 64 turns); each
acceptor takes only its protocols' connections and closes only the listeners it held."""

from __future__ import annotations

import socket

from gearmand_py.server.acceptor import Acceptor, Listening
from gearmand_py.server.frontend import FrontEnd
from gearmand_py.server.listener import Listener, SocketOptions
from gearmand_py.server.poller import MASKS, REPORTED, Poller

BACKLOG = 300
BURST = 250


def dispatch(poller: Poller, timeout: float) -> int:
    """One wait of an I/O loop: run the handler of each ready descriptor; how many were."""
    ready = poller.poll(timeout)
    for fd, event in ready:
        fileobj, handler, events = poller.entries[fd]
        handler(fileobj, MASKS[event & REPORTED] & events)
    return len(ready)


def test_one_wake_up_accepts_every_queued_connection():
    listener = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    listener.setblocking(False)
    acceptor = Acceptor(Listening([Listener(FrontEnd("gear"), listener)], SocketOptions(),
                                   BACKLOG))
    taken: list[socket.socket] = []
    clients = [socket.create_connection(listener.getsockname(), timeout=5) for _ in range(BURST)]
    poller = Poller()
    acceptor.watch(poller, lambda sock, _ip, _front_end: taken.append(sock))
    try:
        assert dispatch(poller, 5) == 1
        assert len(taken) == BURST
        assert acceptor.tick() is None  # not backing off
    finally:
        acceptor.close()
        poller.close()
        for sock in taken + clients:
            sock.close()


def test_the_listeners_stay_open_until_the_last_acceptor_lets_go():
    """-t N: every I/O loop accepts on the same listeners (EPOLLEXCLUSIVE); one that stops
    (a graceful stop, told to each by mail) must not close a socket another loop's poller
    still holds, or its descriptor could come back as a new connection there."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    listener.setblocking(False)
    listening = Listening([Listener(FrontEnd("gear"), listener)], SocketOptions(), BACKLOG)
    taken: list[socket.socket] = []
    pollers = [Poller(), Poller()]
    acceptors = [Acceptor(listening, exclusive=True) for _ in range(2)]
    for acceptor, poller in zip(acceptors, pollers):
        acceptor.watch(poller, lambda sock, _ip, _front_end: taken.append(sock))
    client = socket.create_connection(listener.getsockname(), timeout=5)
    try:
        assert dispatch(pollers[1], 5) == 1
        assert len(taken) == 1
        acceptors[0].close()
        assert listener.fileno() != -1
        acceptors[1].close()
        assert listener.fileno() == -1
        assert listening.sockets == {}
    finally:
        for poller in pollers:
            poller.close()
        for sock in [*taken, client]:
            sock.close()


def test_an_acceptor_takes_only_its_protocols_and_closes_only_what_it_held():
    """-r http at -t N: the processing thread accepts the HTTP connections, the I/O threads the
    gear ones; when the HTTP acceptor lets go, the gear listener stays open for the others."""
    gear = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    http = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    for listener in (gear, http):
        listener.setblocking(False)
    listening = Listening([Listener(FrontEnd("gear"), gear), Listener(FrontEnd("http"), http)],
                          SocketOptions(), BACKLOG)
    taken: dict[str, list[str]] = {"gear": [], "http": []}
    pollers = {"gear": Poller(), "http": Poller()}
    acceptors = {name: Acceptor(listening, exclusive=True, protocols=frozenset({name}))
                 for name in pollers}
    for name, acceptor in acceptors.items():
        acceptor.watch(pollers[name], lambda sock, _ip, front_end, name=name: (
            taken[name].append(front_end.protocol), sock.close()))
    clients = [socket.create_connection(gear.getsockname(), timeout=5),
               socket.create_connection(http.getsockname(), timeout=5)]
    try:
        assert dispatch(pollers["gear"], 5) == 1
        assert dispatch(pollers["http"], 5) == 1
        assert taken == {"gear": ["gear"], "http": ["http"]}
        acceptors["http"].close()
        assert http.fileno() == -1
        assert gear.fileno() != -1
        assert list(listening.sockets) == [gear]
        acceptors["gear"].close()
        assert gear.fileno() == -1
    finally:
        for poller in pollers.values():
            poller.close()
        for sock in clients:
            sock.close()
