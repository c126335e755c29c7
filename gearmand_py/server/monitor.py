"""The monitor port (``--monitor-port``): ``/metrics``, ``/api/status``, ``/healthz`` and ``/``.

Its own threads serve it, so a scrape never runs on the job server's threads; what they show
comes from a snapshot the processing thread takes between two turns (``core.snapshot``), asked
for through ``ask`` (which gives up after ``server.SNAPSHOT_WAIT``); ``/metrics`` keeps each
function's lines from one scrape to the next while they stay the same (``exposition``). At most ``MAX_CLIENTS``
requests are served at once (more get 503), a request must arrive within ``READ_TIMEOUT`` per
read and ``REQUEST_DEADLINE`` in all, and accept errors such as EMFILE back off instead of
spinning.
Loaded only when the monitor is on (it imports ``prometheus_client`` and ``http.server``).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gearmand_py.core import snapshot
from gearmand_py.server import exposition
from gearmand_py.server.queue_writer import StoreHealth

log = logging.getLogger("gearmand_py.monitor")

MAX_CLIENTS = 8
READ_TIMEOUT = 10.0
#: How long a ``/metrics`` waits for the scrape before it to end (which waits at most
#: ``server.SNAPSHOT_WAIT`` for its tables); past it, it answers as one whose tables did not
#: come (``gearman_up 0``), so a stalled processing thread cannot queue every request slot.
SCRAPE_TURN = 10.0
REQUEST_DEADLINE = 60.0
#: How long accept() waits after failing for a reason that does not go away at once (EMFILE).
ACCEPT_BACKOFF = 0.5
Snapshot = dict[str, Any]
#: Runs a function of the engine (``core.snapshot``'s) on the processing thread and returns
#: what it returned; None if that does not come within the wait.
Ask = Callable[[Callable[[Any], Any]], Any]


class _Collector:
    """The families of one snapshot that have no ``function`` label (``exposition`` writes
    those)."""

    def __init__(self, tables: snapshot.Tables | None, monitor: Monitor) -> None:
        self.tables = tables
        self.monitor = monitor

    def collect(self) -> Iterator[Any]:
        tables, monitor = self.tables, self.monitor
        up = GaugeMetricFamily("gearman_up", "Whether the job server answered the scrape.")
        up.add_metric([], 0 if tables is None else 1)
        yield up
        info = InfoMetricFamily("gearman_version", "The job server's version.")
        info.add_metric([], {"version": monitor.version})
        yield info
        if tables is None:
            return
        epoch = GaugeMetricFamily("gearman_epoch_jobs_pending",
                                  "Epoch jobs waiting for their time.")
        epoch.add_metric([], sum(gauges[6] for gauges in tables.functions))
        yield epoch
        connections = GaugeMetricFamily("gearman_connections", "Open connections by kind.",
                                        labels=["kind"])
        for kind, count in tables.connections.items():
            connections.add_metric([kind], count)
        yield connections
        accepted = CounterMetricFamily("gearman_connections_accepted", "Connections accepted.")
        accepted.add_metric([], tables.connections_total)
        yield accepted
        for count, name, text in zip(monitor.wire_bytes(), (
                "gearman_bytes_received", "gearman_bytes_sent"), (
                "Bytes received on gear and HTTP connections (TCP payload, TLS included).",
                "Bytes sent on gear and HTTP connections that the peer acknowledged.")):
            family = CounterMetricFamily(name, text)
            family.add_metric([], count)
            yield family
        store = monitor.store()
        if store is not None:
            yield from _store_families(store)


def _store_families(store: dict[str, Any]) -> Iterator[Any]:
    reachable = GaugeMetricFamily("gearman_queue_reachable",
                                  "Whether the persistent queue's store answers.")
    reachable.add_metric([], 1 if store["reachable"] else 0)
    yield reachable
    for key, name, text in (("commits", "gearman_queue_commits", "Group commits."),
                            ("rows", "gearman_queue_rows", "Rows those commits stored."),
                            ("errors", "gearman_queue_errors",
                             "Store operations that failed because it was unavailable."),
                            ("refused", "gearman_queue_refused",
                             "Rows the store refused one by one."),
                            ("commit_seconds", "gearman_queue_commit_seconds",
                             "Time spent in commits.")):
        family = CounterMetricFamily(name, text)
        family.add_metric([], store[key])
        yield family


class _Server(HTTPServer):
    """An HTTP/1.1 server with at most MAX_CLIENTS request threads and a deadline each."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, sock: socket.socket, monitor: Monitor) -> None:
        self.monitor = monitor
        self._active: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        super().__init__(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError:
            time.sleep(ACCEPT_BACKOFF)  # EMFILE and its kind: try again later, don't spin
            raise

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = len(self._active) >= MAX_CLIENTS
            if not full:
                self._active[request] = time.monotonic() + REQUEST_DEADLINE
        if full:
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        threading.Thread(target=self._serve, args=(request, client_address),
                         daemon=True, name="monitor-request").start()

    def _serve(self, accepted: Any, client_address: Any) -> None:
        request = accepted
        try:
            tls = self.monitor.tls
            if tls is not None:
                accepted.settimeout(READ_TIMEOUT)  # the handshake, too, is a read
                request = tls.wrap_socket(accepted, server_side=True)
            self.finish_request(request, client_address)
        except Exception:  # a client's failure (TLS, reset) costs its request only
            log.debug("monitor request from %s failed", client_address, exc_info=True)
        finally:
            with self._lock:
                self._active.pop(accepted, None)
            self.shutdown_request(request)

    def service_actions(self) -> None:
        """Cut off requests past their deadline (a client trickling its request)."""
        now = time.monotonic()
        with self._lock:
            late = [sock for sock, deadline in self._active.items() if deadline < now]
        for sock in late:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: A request line without a version is answered with a status line, not HTTP/0.9's body.
    default_request_version = "HTTP/1.0"
    timeout = READ_TIMEOUT
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("monitor %s: " + format, self.address_string(), *args)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        monitor = self.server.monitor
        if url.path == "/metrics":
            body = monitor.metrics()
            self._reply(200, CONTENT_TYPE_LATEST, body, gzip_ok=True)
        elif url.path == "/api/status":
            query = parse_qs(url.query)
            try:
                offsets = [max(0, int(query.get(k, ["0"])[0]))
                           for k in ("functions_offset", "workers_offset", "jobs_offset")]
            except ValueError:
                self._reply(400, "text/plain", b"offsets must be whole numbers\n")
                return
            status = monitor.status(*offsets)
            if status is None:
                self._reply(503, "text/plain", b"the job server did not answer in time\n")
            else:
                self._reply(200, "application/json", json.dumps(status).encode(), gzip_ok=True)
        elif url.path == "/healthz":
            problem = monitor.problem()
            self._reply(503 if problem else 200, "text/plain",
                        (problem or "ok").encode() + b"\n")
        elif url.path in ("/", "/index.html"):
            self._reply(200, "text/html; charset=utf-8", monitor.page)
        else:
            self._reply(404, "text/plain", b"not found: try /, /metrics, /api/status, /healthz\n")

    def _reply(self, status: int, content_type: str, body: bytes | list[bytes],
               gzip_ok: bool = False) -> None:
        """``body`` may come in pieces (``/metrics``'s families), sent without joining them:
        a big scrape's text is megabytes, and every copy of it adds to what the server
        holds while it is sent."""
        chunks = [body] if isinstance(body, bytes) else body
        self.send_response(status)
        if gzip_ok and sum(map(len, chunks)) > 1024 \
                and "gzip" in self.headers.get("Accept-Encoding", ""):
            compressor = zlib.compressobj(5, wbits=31)  # gzip.compress(body, 5), in pieces
            chunks = [*map(compressor.compress, chunks), compressor.flush()]
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(sum(map(len, chunks))))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.writelines(chunks)


class Monitor:
    """Serves the monitor port on its own thread until ``stop``."""

    def __init__(self, sock: socket.socket, ask: Ask, version: str,
                 health: StoreHealth | None, tls: Any = None,
                 wire_bytes: Callable[[], tuple[int, int]] = lambda: (0, 0)) -> None:
        """``health``: the queue writer's view of the store (None without a persistent
        queue); ``tls``: an ``ssl.SSLContext`` for HTTPS (with ``--ssl``); ``wire_bytes``:
        bytes received and sent on the job server's connections so far (``server.wire``)."""
        self.ask = ask
        self.wire_bytes = wire_bytes
        self.version = version
        self.health = health
        self.tls = tls
        self.page = resources.files("gearmand_py.server").joinpath(
            "monitor_page.html").read_bytes()
        self._exposition = exposition.Exposition()
        #: Held from taking the tables to writing them: the changes one ``take_all`` hands
        #: apply to what the one before left, so scrapes take their turns.
        self._scrape = threading.Lock()
        #: Whether the exposition holds what the last ``take_all`` handed (not after a scrape
        #: that failed or timed out, whose changes may be lost: the next asks for every row).
        self._in_step = False
        self._server = _Server(sock, self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.5,),
                                        name="monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def store(self) -> dict[str, Any] | None:
        """The queue writer's view of the store; None without a persistent queue."""
        health = self.health
        if health is None:
            return None
        return {"reachable": health.reachable, "last_error": health.last_error,
                "commits": health.commits, "rows": health.rows, "errors": health.errors,
                "refused": health.refused, "commit_seconds": health.commit_seconds}

    def status(self, functions_offset: int = 0, workers_offset: int = 0,
               jobs_offset: int = 0) -> Snapshot | None:
        """``/api/status``'s page from those offsets; None if the server did not answer."""
        raw = self.ask(lambda engine: snapshot.take(engine, functions_offset, workers_offset,
                                                    jobs_offset))
        if raw is None:
            return None
        status = snapshot.shape(raw)
        status["store"] = self.store()
        status["version"] = self.version
        status["bytes_in"], status["bytes_out"] = self.wire_bytes()
        return status

    def metrics(self) -> list[bytes]:
        """``/metrics``'s text, in pieces: the families without a function label, then one
        per family with it."""
        if not self._scrape.acquire(timeout=SCRAPE_TURN):
            return [self._families_without_function(None)]
        try:
            complete, self._in_step = not self._in_step, False
            tables = self.ask(lambda engine: snapshot.take_all(engine, complete))
            chunks = [self._families_without_function(tables)]
            if tables is not None:
                chunks += (family.encode() for family in self._exposition.families(tables))
                self._in_step = True
        finally:
            self._scrape.release()
        return chunks

    def _families_without_function(self, tables: snapshot.Tables | None) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(tables, self))  # type: ignore[arg-type]
        return generate_latest(registry)

    def problem(self) -> str:
        """Why the server is not healthy; empty when it is."""
        if self.health is not None and not self.health.reachable:
            return "the persistent queue's store is unreachable: " + self.health.last_error
        return ""
