"""The acceptor on real sockets: one wake-up of the accepting thread takes every connection the
kernel has queued (it took at most 64 before, so a full queue of 4096 needed 64 turns)."""

from __future__ import annotations

import selectors
import socket

from gearmand_py.server.acceptor import Acceptor, Listening
from gearmand_py.server.frontend import FrontEnd
from gearmand_py.server.listener import Listener, SocketOptions

BACKLOG = 300
BURST = 250


def test_one_wake_up_accepts_every_queued_connection():
    listener = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    listener.setblocking(False)
    acceptor = Acceptor(Listening([Listener(FrontEnd("gear"), listener)], SocketOptions(),
                                   BACKLOG))
    taken: list[socket.socket] = []
    clients = [socket.create_connection(listener.getsockname(), timeout=5) for _ in range(BURST)]
    with selectors.DefaultSelector() as selector:
        acceptor.watch(selector, lambda sock, _ip, _front_end: taken.append(sock))
        try:
            ready = selector.select(5)
            assert len(ready) == 1
            for key, mask in ready:
                key.data(key.fileobj, mask)
            assert len(taken) == BURST
            assert acceptor.tick() is None  # not backing off
        finally:
            acceptor.close()
            for sock in taken + clients:
                sock.close()


def test_the_listeners_stay_open_until_the_last_acceptor_lets_go():
    """-t N: every I/O loop accepts on the same listeners (EPOLLEXCLUSIVE); one that stops
    (a graceful stop, told to each by mail) must not close a socket another loop's selector
    still holds, or its descriptor could come back as a new connection there."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
    listener.setblocking(False)
    listening = Listening([Listener(FrontEnd("gear"), listener)], SocketOptions(), BACKLOG)
    taken: list[socket.socket] = []
    with selectors.DefaultSelector() as first, selectors.DefaultSelector() as second:
        acceptors = [Acceptor(listening, exclusive=True) for _ in range(2)]
        for acceptor, selector in zip(acceptors, (first, second)):
            acceptor.watch(selector, lambda sock, _ip, _front_end: taken.append(sock))
        client = socket.create_connection(listener.getsockname(), timeout=5)
        try:
            for key, mask in second.select(5):
                key.data(key.fileobj, mask)
            assert len(taken) == 1
            acceptors[0].close()
            assert listener.fileno() != -1
            acceptors[1].close()
            assert listener.fileno() == -1
            assert listening.sockets == {}
        finally:
            for sock in [*taken, client]:
                sock.close()
