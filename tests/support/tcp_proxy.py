"""A loopback TCP proxy a test can cut and restore, to make a database look restarted to the
server without touching the real database service other tests share."""

from __future__ import annotations

import selectors
import socket
import struct
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target`` while up; ``down()`` drops every connection and
    refuses new ones, as a database restart does; ``up()`` serves again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._thread: threading.Thread | None = None
        self._stop_r: socket.socket | None = None
        self._stop_w: socket.socket | None = None
        self._marker: bytes | None = None

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._stop_r, self._stop_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, args=(listener, self._stop_r),
                                        daemon=True)
        self._thread.start()

    def drop_reply_to(self, marker: bytes) -> None:
        """Once: forward the next request that contains ``marker``, then cut that connection
        instead of forwarding the answer (say a COMMIT the database did, whose answer is lost)."""
        self._marker = marker

    def down(self) -> None:
        if self._thread is None:
            return
        assert self._stop_w is not None
        self._stop_w.send(b"x")
        self._thread.join(5)
        self._stop_w.close()
        self._thread = None

    def _serve(self, listener: socket.socket, stop: socket.socket) -> None:
        peers: dict[socket.socket, socket.socket] = {}
        clients: set[socket.socket] = set()
        cut: socket.socket | None = None  # the upstream whose next answer is not forwarded
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ, "accept")
            selector.register(stop, selectors.EVENT_READ, "stop")
            running = True
            while running:
                for key, _mask in selector.select():
                    if key.data == "stop":
                        running = False
                    elif key.data == "accept":
                        client, _ = listener.accept()
                        try:
                            upstream = socket.create_connection(self.target, timeout=5)
                        except OSError:
                            client.close()
                            continue
                        peers[client], peers[upstream] = upstream, client
                        clients.add(client)
                        selector.register(client, selectors.EVENT_READ, "pipe")
                        selector.register(upstream, selectors.EVENT_READ, "pipe")
                    else:
                        sock = key.fileobj
                        try:
                            data = sock.recv(65536)  # type: ignore[union-attr]
                            if sock in clients and self._marker and self._marker in data:
                                cut, self._marker = peers[sock], None  # type: ignore[index]
                            if data and sock is not cut:
                                peers[sock].sendall(data)  # type: ignore[index]
                                continue
                        except OSError:
                            pass
                        other = peers.pop(sock)  # type: ignore[arg-type]
                        peers.pop(other, None)
                        clients.difference_update((sock, other))
                        for s in (sock, other):
                            selector.unregister(s)
                            s.close()  # type: ignore[union-attr]
            for sock in list(peers):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            listener.close()
            stop.close()
