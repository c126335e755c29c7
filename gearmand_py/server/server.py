"""Wires the threads together: signals and management (the main thread), I/O loops, processing.

As in gearmand: ``-t N`` (N ≥ 2) runs N I/O threads and one processing thread beside the main
thread, which handles signals; ``-t 1`` runs one thread that does both the I/O and the
processing beside the main thread; ``-t 0`` runs everything in the main thread. Unlike gearmand,
whose main thread accepts every connection and hands it to an I/O thread, the thread that will
serve a connection accepts it (``acceptor``): with ``-t 2`` or more, whichever I/O thread the
kernel wakes for it.

Signals, as gearmand: SIGINT and SIGTERM stop at once; SIGUSR1 stops gracefully (stop listening,
keep serving the connections there are until no job is left, then exit); SIGHUP reopens the log.
The admin ``shutdown [graceful]`` command does the same from a loopback connection.

The server gets its listening sockets and its opened queue backend from the start-up steps
(``gearmand_py.process.startup``), which also decide what :class:`Hooks` it calls.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gearmand_py import COMPATIBLE_VERSION, __version__, logs
from gearmand_py.core.admin import Admin, ServerInfo
from gearmand_py.core.engine import JOURNAL_RELEASE, Engine, EngineOptions
from gearmand_py.server import fatal
from gearmand_py.server.acceptor import Acceptor, Listening
from gearmand_py.server.batches import CALL, Batch
from gearmand_py.server.io_loop import IOLoop
from gearmand_py.server.listener import Listener, SocketOptions
from gearmand_py.server.poller import Poller
from gearmand_py.server.processor import Processor
from gearmand_py.server.queue_writer import QueueWriter
from gearmand_py.settings import Config, EngineConfig
from queue_backends import QueueBackend, QueueError

log = logging.getLogger("gearmand_py.server")

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP)

#: Middle-generation collections per full collection of the cyclic garbage collector (Python's
#: default: 10). Queued jobs are long-lived container objects, and a growing queue made Python
#: re-scan all of them again and again: the collector took a quarter to almost half of the CPU
#: of background submits (bg, -t 0, 400,000 jobs: 2.4 s of user CPU with the defaults, 1.3-1.9 s
#: with it off, 1.7-2.0 s with this and the startup objects frozen). Cycles among new objects
#: are still found by the younger collections; the server breaks its own long-lived cycle (a
#: connection and its peer) itself.
GC_FULL_EVERY = 1000

#: How long a thread waiting for the GIL lets the holder run before asking it to let go, with
#: ``-t`` 1 or more (Python's default: 5 ms). The processing thread holds the GIL most of the
#: time and lets go of it only inside its sends, and it often takes it back before a woken I/O
#: thread gets it; an I/O thread with a batch ready could wait milliseconds for its turn while
#: the processing thread ran out of work. 50 us bounds that wait. fg at -t 4: median jobs/s
#: +3% to +12% in four series of 8-12 alternating runs (10 us: -9%); no change for fg or bg
#: at -t 1, nor for durable bg submits (Postgres, -t 1).
SWITCH_INTERVAL = 50e-6
#: With the monitor on, how often the queue writer asks an idle store whether it answers.
PROBE_EVERY = 1.0
#: How long a monitor request waits for the processing thread's snapshot.
SNAPSHOT_WAIT = 5.0


def tune_gc() -> None:
    """Leave the objects made at startup (modules, settings, replayed jobs) out of every future
    collection, and make full collections rare."""
    gc.collect()
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, GC_FULL_EVERY)


def engine_options(config: EngineConfig) -> EngineOptions:
    prefix = config.job_handle_prefix or "H:" + os.uname().nodename
    return EngineOptions(
        job_handle_prefix=prefix.encode(),
        worker_wakeup=config.worker_wakeup,
        round_robin=config.round_robin,
        job_retries=config.job_retries,
        exceptions=config.exceptions,
    )


def status_line(engine: Engine) -> str:
    """What a supervisor shows for the server (systemd's STATUS=); only the processing thread
    may call it once the server serves."""
    running = sum(f.job_running for f in engine.functions.values())
    workers = sum(1 for peer in engine.peers.values() if peer.functions)
    return (f"{len(engine.jobs) - running} jobs queued, {running} running; {workers} workers, "
            f"{len(engine.peers)} connections")


@dataclass(frozen=True)
class MonitorEndpoint:
    """The monitor port's bound socket, and the TLS context to serve it with (``--ssl``)."""

    sock: socket.socket
    tls: Any = None
    #: systemd passed the socket (socket activation) rather than the server binding it.
    from_systemd: bool = False


@dataclass(frozen=True)
class Hooks:
    """What the process around the server is told, and on which thread."""

    #: Main thread, once clients can be served (bound, replayed, threads running); gets
    #: the status line.
    ready: Callable[[str], None] = lambda status: None
    #: Main thread, when the server begins to stop.
    stopping: Callable[[], None] = lambda: None
    #: Processing thread, every ``heartbeat_every`` seconds, with the status line: being called
    #: proves that thread still takes turns (systemd's watchdog).
    heartbeat: Callable[[str], None] | None = None
    heartbeat_every: float = 0.0


class Server:
    """One job server on listening sockets it is given, until stopped."""

    def __init__(self, config: Config, listeners: list[Listener],
                 backend: QueueBackend | None = None, hooks: Hooks = Hooks(),
                 verbose: Callable[[], str] = logs.level_name,
                 monitor: MonitorEndpoint | None = None) -> None:
        """``monitor``: serve the monitor port there (the engine then counts for it)."""
        self.config = config
        self.backend = backend
        self.hooks = hooks
        info = ServerInfo(f"{COMPATIBLE_VERSION}+gearmand-py-{__version__}".encode(), os.getpid(),
                          verbose, self._admin_shutdown)
        if monitor is None:
            self.engine = Engine(engine_options(config.engine), Admin(info))
        else:
            from gearmand_py.core.stats import CountingEngine  # only with the monitor on
            # Loaded now, so that tune_gc() freezes prometheus_client's objects with the rest
            # of the start-up ones instead of leaving them for every collection to walk.
            importlib.import_module("gearmand_py.server.monitor")
            self.engine = CountingEngine(engine_options(config.engine), Admin(info))
        self.monitor_endpoint = monitor
        self.processor = Processor(self.engine, self._after_turn)
        network = config.network
        socket_options = SocketOptions(network.keepalive, network.keepalive_idle,
                                       network.keepalive_interval, network.keepalive_count)
        self.listening = Listening(listeners, socket_options, network.backlog)
        #: Set once the loops were told to stop accepting (a graceful stop).
        self._unlistened = False
        self.stop_requested = False
        #: What ``serve`` returns: 0, or fatal.EXIT_SOFTWARE after an internal failure.
        self.exit_status = 0
        self.graceful = False
        self._admin_request: bool | None = None
        self._reopen_logs = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.writer: QueueWriter | None = None
        self.monitor: Any = None  # a monitor.Monitor once started (that module loads lazily)
        #: Makes the thread that runs the core take a turn (from any thread); set by the mode.
        self._wake_core: Callable[[], None] = self.processor.nudge
        #: Hands a batch to the thread that runs the core (from any thread); set by the mode.
        self._deliver: Callable[[Batch], None] = self.processor.submit
        self._beat_due = False
        self._next_beat = 0.0
        #: Member id in a shared queue (``_join``).
        self._member = 0
        #: The mode's I/O loops (the monitor reads their connections' byte counts).
        self._loops: list[IOLoop] = []

    def replay(self) -> None:
        """Queue the stored jobs before any client is served (the listeners are bound, but
        nothing is accepted yet). With --store-queue-on-shutdown the table is emptied: the
        queue is stored again on the way out."""
        backend = self.backend
        if backend is None:
            return
        if self.config.queue.shared_queue:
            self._join()
            return
        # New rows continue after every stored id (the backend's record, whatever replays).
        self.engine.next_queue_id = backend.max_id() + 1
        restored, redundant = 0, []
        for row in backend.replay():
            if self.engine.restore(row):
                restored += 1
            else:
                redundant.append(row.id)
        if redundant:
            backend.done(redundant)
        log.log(logs.NOTICE, "Replayed %d jobs from the %s queue", restored, backend.name)
        if self.config.queue.store_queue_on_shutdown:
            backend.clear()

    def _join(self) -> None:
        """A shared queue is not replayed: this server joins it, and claims jobs as its workers
        want them."""
        member = self.backend.join(socket.gethostname(), os.getpid())  # type: ignore[union-attr]
        self._member = member
        log.log(logs.NOTICE, "Joined the shared %s queue as member %d", self.backend.name,
                member)

    def serve(self) -> int:
        """Run until stopped; returns the exit status."""
        previous = self._install_signals()
        self._next_beat = time.monotonic() + self.hooks.heartbeat_every
        try:
            if self.config.threads == 0:
                fatal.guarded(self._serve_single, self.fail)()
            elif self.config.threads == 1:
                self._serve_combined()
            else:
                self._serve_threaded(self.config.threads)
        finally:
            self.hooks.stopping()
            self._restore_signals(previous)
            self.listening.close()
            self._wake_r.close()
            self._wake_w.close()
            if self.monitor is not None:
                self.monitor.stop()
            self._close_queue()
        log.log(logs.NOTICE, "Shutdown complete")
        return self.exit_status

    def _start_helpers(self, deliver: Callable[[Batch], None]) -> None:
        """The queue-writer and monitor threads, started once the mode knows where their
        batches go."""
        self._deliver = deliver
        monitoring = self.monitor_endpoint is not None
        probe_every = PROBE_EVERY if monitoring else None
        if self.config.queue.shared_queue:
            self._start_sharing(deliver, probe_every)
        elif self.backend is not None and not self.config.queue.store_queue_on_shutdown:
            self.writer = QueueWriter(self.backend, deliver, self.fail, probe_every)
            self.engine.journal = self.writer.put
            self.writer.start()
        if monitoring:
            self._start_monitor()

    def _start_sharing(self, deliver: Callable[[Batch], None],
                       probe_every: float | None) -> None:
        from gearmand_py.core.sharing import Sharing
        from gearmand_py.server.shared_queue import SharedQueue
        from queue_backends.shared import MEMBER_SHIFT
        engine = self.engine
        writer = SharedQueue(self.backend, deliver, self.fail,  # type: ignore[arg-type]
                             engine.hand_over, self._take_over, probe_every)
        self.writer = writer
        engine.share(Sharing(engine, writer.put), self._member,
                     (self._member << MEMBER_SHIFT) + 1)
        writer.start()

    def _take_over(self, number: int, claimed: list[Any]) -> None:
        """Processing thread: queue the jobs the shared queue's thread claimed (or give them
        back, when a graceful stop began while they were on their way)."""
        engine = self.engine
        if self.graceful:
            self.writer.put((JOURNAL_RELEASE, [job.row.id for job in claimed]))  # type: ignore
            engine.shared.applied = number
            return
        for job in claimed:
            engine.take_over(job.row, job.handle, job.attempts)
        engine.shared.applied = number

    def _give_back(self) -> None:
        """Processing thread, at a graceful stop: hand the jobs no worker started to the other
        servers at once, and claim no more."""
        writer = self.writer
        writer.claiming = False  # type: ignore[union-attr]
        ids = self.engine.give_back()
        if ids:
            writer.put((JOURNAL_RELEASE, ids))  # type: ignore[union-attr]
            log.log(logs.NOTICE, "Graceful shutdown: gave %d queued jobs back to the shared "
                    "queue", len(ids))

    def _start_monitor(self) -> None:
        from gearmand_py.server.monitor import Monitor  # loads prometheus_client
        endpoint = self.monitor_endpoint
        assert endpoint is not None
        from gearmand_py.server import wire
        for loop in self._loops:
            loop.closed_bytes = wire.Closed()
        loops = self._loops
        totals = wire.Totals(lambda: [(loop.closed_bytes, [conn.sock for conn in
                                                           list(loop.connections)])
                                      for loop in loops])
        self.monitor = Monitor(endpoint.sock, self._snapshot,
                               f"{COMPATIBLE_VERSION}+gearmand-py-{__version__}",
                               None if self.writer is None else self.writer.health, endpoint.tls,
                               totals)
        self.monitor.start()

    def _snapshot(self, take: Callable[[Any], Any]) -> Any:
        """Monitor threads: what ``take`` (a ``core.snapshot`` function) returns, run on the
        thread that runs the core, or None if it does not come within SNAPSHOT_WAIT
        seconds."""
        taken: list[Any] = []
        done = threading.Event()

        def run() -> None:
            try:
                taken.append(take(self.engine))
            except Exception:  # a bug here must cost the scrape, not the processing thread
                log.exception("monitor snapshot failed")
            finally:
                done.set()

        self._deliver([(CALL, None, run)])
        return taken[0] if done.wait(SNAPSHOT_WAIT) and taken else None

    def _close_queue(self) -> None:
        """Let the writer finish, or store the queue now with --store-queue-on-shutdown."""
        if self.backend is None:
            return
        if self.writer is not None:
            self.writer.stop()
        elif self.config.queue.store_queue_on_shutdown:
            jobs = self.engine.stored_jobs()
            try:
                refused = self.backend.add(jobs)
                log.log(logs.NOTICE, "Stored %d jobs in the %s queue", len(jobs) - len(refused),
                        self.backend.name)
                if refused:
                    log.error("Storing the queue on shutdown: the database refused %d jobs (%s)",
                              len(refused), next(iter(refused.values())))
            except QueueError as exc:
                log.error("Storing the queue on shutdown failed: %s", exc)
        self.backend.close()

    # -- stopping ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop now (from any thread)."""
        self.stop_requested = True
        self._wake_main()

    def fail(self) -> None:
        """A thread failed (``fatal``): stop now, with a non-zero exit status (from any thread)."""
        self.exit_status = fatal.EXIT_SOFTWARE
        self.request_stop()

    def request_graceful_stop(self) -> None:
        """Stop listening, finish the jobs there are, then stop (from any thread)."""
        self.graceful = True
        self._wake_main()
        self._wake_core()

    def _admin_shutdown(self, graceful: bool) -> None:
        # Acted on after the turn, so the command's OK is on its way before anything stops.
        self._admin_request = graceful

    def _after_turn(self) -> None:
        """Processing thread, after every turn: act on admin shutdowns; end a graceful stop."""
        if self._admin_request is not None:
            graceful, self._admin_request = self._admin_request, None
            if graceful:
                self.request_graceful_stop()
            else:
                self.request_stop()
        shared = self.engine.shared
        if shared is not None:
            if self.graceful and self.writer.claiming:  # type: ignore[union-attr]
                self._give_back()
            shared.after_turn()
        if self.graceful and not self.engine.jobs and not self.stop_requested:
            log.log(logs.NOTICE, "Graceful shutdown: no jobs left")
            self.request_stop()
        if self._beat_due:
            self._beat_due = False
            self.hooks.heartbeat(status_line(self.engine))  # type: ignore[misc]

    def _wake_main(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass

    def _management(self) -> None:
        """Main thread, when its wake-up socket is written (a signal, a stop or graceful stop
        asked from any thread): stop listening once graceful; reopen logs."""
        if self.graceful and not self._unlistened:
            self._unlistened = True
            log.log(logs.NOTICE, "Graceful shutdown: no longer accepting connections")
            for loop in self._loops:
                loop.stop_accepting()
        if self._reopen_logs:
            self._reopen_logs = False
            logs.reopen()

    def _heartbeat_wait(self) -> float | None:
        """Seconds until the next heartbeat; when one is due, the thread that runs the core is
        woken to send it on its next turn."""
        if self.hooks.heartbeat is None:
            return None
        now = time.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + self.hooks.heartbeat_every
            self._beat_due = True
            self._wake_core()
        return self._next_beat - now

    # -- signals -------------------------------------------------------------------------------

    def _install_signals(self) -> dict[int, Any]:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in HANDLED_SIGNALS}
        previous[-1] = signal.set_wakeup_fd(self._wake_w.fileno())
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        signal.set_wakeup_fd(previous.pop(-1))
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        # Runs in the main thread between bytecodes; the wake-up fd has already been written.
        if signum == signal.SIGUSR1:
            self.graceful = True
            self._wake_core()
        elif signum == signal.SIGHUP:
            self._reopen_logs = True
        else:
            self.stop_requested = True

    def _on_wake(self, _fileobj: Any, _mask: int) -> None:
        # Every reason for management writes this socket, so a turn without it needs none.
        try:
            self._wake_r.recv(4096)
        except BlockingIOError:
            pass
        self._management()

    # -- modes ---------------------------------------------------------------------------------

    def _serve_single(self) -> None:
        processor = self.processor
        loop = IOLoop("main", self.config.network.max_packet_size, processor.handle,
                      self.config.tls.ssl_handshake_timeout, with_core=True)
        self._loops = [loop]
        self._wake_core = self._wake_main
        self._start_helpers(loop.forward)
        loop.accept(Acceptor(self.listening))
        self._watch(loop.poller)
        log.log(logs.NOTICE, "Ready to accept connections (single thread)")
        self.hooks.ready(status_line(self.engine))
        beating = self.hooks.heartbeat is not None
        timeout = self._heartbeat_wait()
        try:
            while not self.stop_requested:
                loop.run_once(timeout)
                timeout = processor.tick()
                # Asked every turn: a wait is merged in only when there is one.
                wait = loop.tick()
                if wait is not None:
                    timeout = earliest(timeout, wait)
                if beating:
                    timeout = earliest(timeout, self._heartbeat_wait())
        finally:
            loop.poller.unregister(self._wake_r)
            loop.close_all()

    def _serve_combined(self) -> None:
        """gearmand's ``-t 1``: one thread accepts, reads, processes and writes, as ``-t 0``'s
        main thread does, with no hand-off between threads per request or connection."""
        loop = self._core_loop()
        self._loops = [loop]
        self._wake_core = loop.nudge
        self._start_helpers(loop.forward)
        loop.accept(Acceptor(self.listening))
        self._run_threads("Ready to accept connections (1 I/O and processing thread)",
                          [fatal.thread(self._core_runner(loop), loop.name, self.fail)],
                          loop.stop)

    def _serve_threaded(self, count: int) -> None:
        """``-t N``: N I/O threads and the processing thread. With ``-r http`` the processing
        thread also serves the HTTP connections in a loop of its own: gearmand closes them
        after every response, and the I/O thread's hand-offs (of each request, and of the
        close) cost more than they spare it (HTTP -t 4 +60 %, docs/benchmarks.md)."""
        processor = self.processor
        sys.setswitchinterval(SWITCH_INTERVAL)
        protocols = {front_end.protocol for front_end in self.listening.sockets.values()}
        core: IOLoop | None = None
        deliver: Callable[[Batch], None] = processor.submit
        if "http" in protocols:
            core = self._core_loop()
            deliver = core.forward
            self._wake_core = core.nudge
            core.accept(Acceptor(self.listening, protocols=frozenset({"http"})))
            protocols.discard("http")
        loops = [IOLoop(f"io-{i}", self.config.network.max_packet_size, deliver,
                        self.config.tls.ssl_handshake_timeout) for i in range(count)]
        self._loops = loops if core is None else [core, *loops]
        self._start_helpers(deliver)
        for loop in loops:
            loop.accept(Acceptor(self.listening, exclusive=True, protocols=frozenset(protocols)))
        stop_core: Callable[[], None]
        if core is None:
            processing = fatal.thread(processor.run, "processing", self.fail)
            stop_core = processor.stop
        else:
            processing = fatal.thread(self._core_runner(core), core.name, self.fail)
            stop_core = core.stop

        def stop() -> None:
            stop_core()
            processing.join(5)
            for loop in loops:
                loop.stop()

        self._run_threads(
            f"Ready to accept connections ({count} I/O threads)",
            [processing, *(fatal.thread(loop.run, loop.name, self.fail) for loop in loops)],
            stop)

    def _core_loop(self) -> IOLoop:
        """An I/O loop that runs the processing core in its own thread (``with_core``)."""
        return IOLoop("processing", self.config.network.max_packet_size, self.processor.handle,
                      self.config.tls.ssl_handshake_timeout, with_core=True)

    def _core_runner(self, loop: IOLoop) -> Callable[[], None]:
        """The body of the thread that runs ``loop`` and the core's turns."""
        processor = self.processor

        def run() -> None:
            timeout = None
            try:
                while loop.running:
                    loop.run_once(timeout)
                    timeout = earliest(processor.tick(), loop.tick())
            finally:
                loop.close_all()
        return run

    def _run_threads(self, ready: str, threads: list[threading.Thread],
                     stop: Callable[[], None]) -> None:
        """The main thread of ``-t 1`` and more: start ``threads``, handle signals and
        management until stopped; then ``stop`` the threads and wait for them."""
        status = status_line(self.engine)  # while this thread is the only one using it
        for thread in threads:
            thread.start()
        selector = selectors.DefaultSelector()
        self._watch(selector)
        log.log(logs.NOTICE, ready)
        self.hooks.ready(status)
        timeout = self._heartbeat_wait()
        try:
            while not self.stop_requested:
                for key, mask in selector.select(timeout):
                    key.data(key.fileobj, mask)
                timeout = self._heartbeat_wait()
        finally:
            selector.close()
            stop()
            for thread in threads:
                thread.join(5)

    def _watch(self, selector: Poller | selectors.BaseSelector) -> None:
        """Register the wake-up socket (signals, stop requests) on the main thread's selector,
        or at -t 0 on its I/O loop's poller."""
        selector.register(self._wake_r, selectors.EVENT_READ, self._on_wake)


def earliest(a: float | None, b: float | None) -> float | None:
    """The shorter of two selector timeouts, None meaning no limit."""
    if a is None:
        return b
    return a if b is None else min(a, b)
