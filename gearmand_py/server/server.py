"""Wires the threads together: listener/management (the main thread), I/O loops, processing.

``-t N`` (N ≥ 1) runs N I/O threads and one processing thread beside the main thread, which
accepts connections, hands them out round-robin and handles signals. ``-t 0`` runs everything in
the main thread. SIGINT and SIGTERM stop the server at once.
"""

from __future__ import annotations

import itertools
import logging
import os
import selectors
import signal
import socket
import threading
from argparse import Namespace
from collections.abc import Callable
from typing import Any

from gearmand_py import COMPATIBLE_VERSION, __version__
from gearmand_py.core.admin import Admin, ServerInfo
from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.server.io_loop import IOLoop
from gearmand_py.server.listener import SocketOptions, accept_ready, open_listeners
from gearmand_py.server.processor import Processor

log = logging.getLogger("gearmand_py.server")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def engine_options(settings: Namespace) -> EngineOptions:
    prefix = settings.job_handle_prefix or "H:" + os.uname().nodename
    return EngineOptions(
        job_handle_prefix=prefix.encode(),
        worker_wakeup=settings.worker_wakeup,
        round_robin=settings.round_robin,
        job_retries=settings.job_retries,
        exceptions=settings.exceptions,
    )


class Server:
    """One running job server."""

    def __init__(self, settings: Namespace, verbose: Callable[[], str]) -> None:
        self.settings = settings
        info = ServerInfo(f"{COMPATIBLE_VERSION}+gearmand-py-{__version__}".encode(), os.getpid(),
                          verbose)
        self.engine = Engine(engine_options(settings), Admin(info))
        self.processor = Processor(self.engine)
        self.socket_options = SocketOptions(settings.keepalive, settings.keepalive_idle,
                                            settings.keepalive_interval, settings.keepalive_count)
        self.listeners = open_listeners(settings.listen, settings.port, settings.backlog)
        self.selector = selectors.DefaultSelector()
        self.stop_requested = False
        self._signal_r, self._signal_w = socket.socketpair()
        self._signal_r.setblocking(False)
        self._signal_w.setblocking(False)

    @property
    def ports(self) -> list[int]:
        return [sock.getsockname()[1] for sock in self.listeners]

    def serve(self) -> int:
        """Run until a stop signal; returns the exit status."""
        previous = self._install_signals()
        try:
            if self.settings.threads == 0:
                self._serve_single()
            else:
                self._serve_threaded(self.settings.threads)
        finally:
            self._restore_signals(previous)
            for sock in self.listeners:
                sock.close()
            self.selector.close()
            self._signal_r.close()
            self._signal_w.close()
        log.log(25, "Shutdown complete")
        return 0

    # -- signals -------------------------------------------------------------------------------

    def _install_signals(self) -> dict[int, Any]:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        previous[-1] = signal.set_wakeup_fd(self._signal_w.fileno())
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        signal.set_wakeup_fd(previous.pop(-1))
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.stop_requested = True

    def _on_signal_fd(self, _fileobj: Any, _mask: int) -> None:
        try:
            self._signal_r.recv(4096)
        except BlockingIOError:
            pass

    # -- modes ---------------------------------------------------------------------------------

    def _serve_single(self) -> None:
        processor = self.processor

        def run_batch(batch: Any) -> None:
            processor.handle(batch)
            processor.flush()

        loop = IOLoop("main", self.settings.max_packet_size, run_batch, threaded=False)
        self._watch(loop.selector, loop.add_socket)
        log.log(25, "Ready to accept connections (single thread)")
        try:
            while not self.stop_requested:
                loop.run_once(None)
        finally:
            for sock in self.listeners:
                loop.selector.unregister(sock)
            loop.selector.unregister(self._signal_r)
            loop.close_all()

    def _serve_threaded(self, count: int) -> None:
        processor = self.processor
        loops = [IOLoop(f"io-{i}", self.settings.max_packet_size, processor.submit)
                 for i in range(count)]
        threads = [threading.Thread(target=processor.run, name="processing", daemon=True)]
        threads += [threading.Thread(target=loop.run, name=loop.name, daemon=True)
                    for loop in loops]
        for thread in threads:
            thread.start()
        next_loop = itertools.cycle(loops)
        self._watch(self.selector, lambda sock, ip: next(next_loop).add_socket(sock, ip))
        log.log(25, "Ready to accept connections (%d I/O threads)", count)
        try:
            while not self.stop_requested:
                for key, mask in self.selector.select(None):
                    key.data(key.fileobj, mask)
        finally:
            for loop in loops:
                loop.stop()
            for thread in threads[1:]:
                thread.join(5)
            processor.stop()
            threads[0].join(5)

    def _watch(self, selector: selectors.BaseSelector,
               take: Callable[[socket.socket, str], None]) -> None:
        """Register the listeners and the signal wake-up on the accepting thread's selector."""
        options = self.socket_options
        for sock in self.listeners:
            selector.register(sock, selectors.EVENT_READ,
                              lambda listener, _mask: accept_ready(listener, options, take))
        selector.register(self._signal_r, selectors.EVENT_READ, self._on_signal_fd)


def run(settings: Namespace, verbose: Callable[[], str] | None = None) -> int:
    """Start a server with parsed gearmand settings and serve until stopped."""
    if verbose is None:
        def verbose() -> str:
            return str(settings.verbose).upper()
    try:
        server = Server(settings, verbose)
    except OSError as exc:
        log.critical("%s", exc)
        raise SystemExit(f"gearmand-py: {exc}") from exc
    return server.serve()
