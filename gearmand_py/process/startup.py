"""The start-up sequence, one step after another, each done by its own module.

parse (``cli``) → load the TLS certificate (--ssl) → bind the listeners, or take them from
systemd → detach (-d) → switch user (-u) → open the log and write the pid file → open the queue
backend and replay it → start the threads → tell the parent (-d) and systemd that the server
serves.

Binding comes before the user switch so ports below 1024 work with -u; detaching comes after
binding so a port in use is reported by the command the user typed. Until the server serves,
SIGINT and SIGTERM end the start-up with one line and exit status 1, like any other start-up
failure; from then on the server handles them (gearmand's meanings).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from contextlib import ExitStack
from types import FrameType
from typing import TYPE_CHECKING, Any

from gearmand_py import logs
from gearmand_py.process import daemon, limits, listeners, logfile, privileges, systemd, tls
from gearmand_py.process.errors import Interrupted, SetupError
from gearmand_py.process.pidfile import PidFile
from gearmand_py.server.listener import Listener
from gearmand_py.server.server import Hooks, MonitorEndpoint, Server, tune_gc
from gearmand_py.settings import PROG, Config, version_text
from queue_backends import PreparedQueue, QueueBackend, QueueError, prepare

if TYPE_CHECKING:
    import ssl

log = logging.getLogger("gearmand_py.process")

#: Seconds between STATUS= updates to systemd (more often when its watchdog needs it).
STATUS_EVERY = 5.0


class _UntilServing:
    """Until :meth:`serving`, SIGINT, SIGTERM and SIGUSR1 (a graceful stop of a server not yet
    serving is a stop) raise Interrupted, and SIGHUP, whose default would end the process, is
    ignored (the log is opened fresh anyway). While serving, the server's own handlers are in
    place; it puts these back on its way out, and then a stop signal ends the shutdown at once
    (SystemExit), so a hung database cannot make the process deaf."""

    STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)

    def __enter__(self) -> _UntilServing:
        self._serving = False
        self._previous: dict[int, Any] = {sig: signal.signal(sig, self._stop)
                                          for sig in self.STOPS}
        self._previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def serving(self) -> None:
        self._serving = True

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._serving:
            log.warning("%s during shutdown: stopping at once", name)
            raise SystemExit(1)
        raise Interrupted(name)


def run(config: Config) -> int:
    """Start the server the settings describe and serve until it stops; the exit status."""
    return Startup(config).run()


class Startup:
    """One run of the sequence, and what its later steps and its clean-up need."""

    def __init__(self, config: Config) -> None:
        self.config = config
        #: Where the line of a failed step goes: stderr, or the waiting parent after -d.
        self.report = _print
        self.detached: daemon.Detached | None = None
        self.log_open = False
        #: The socket systemd passed for the monitor port, if it passed one.
        self.monitor_socket: socket.socket | None = None

    def run(self) -> int:
        """The steps; a failed one prints ``gearmand-py: <cause>`` and returns 1. Whatever the
        steps set up is undone on the way out, before the line is printed."""
        with _UntilServing() as self.signals:
            try:
                with ExitStack() as self.cleanup:
                    try:
                        return self._steps()
                    except (SetupError, Interrupted) as exc:
                        if self.log_open:
                            log.critical("%s", exc)
                        raise
            except (SetupError, Interrupted) as exc:
                self.report(f"{PROG}: {exc}")
                return 1

    def _steps(self) -> int:
        config = self.config
        process = config.process
        user = privileges.lookup(process.user) if process.user else None
        warnings = limits.apply(process)
        context = tls.context(config.tls)
        bound = self._listen(context)
        monitor = self._bind_monitor(context)
        if process.daemon:
            detached = daemon.detach()
            if isinstance(detached, int):
                return detached  # the parent: the child serves, or has said why not
            self.detached = detached
            self.report = detached.failed
        queue = self._prepare_queue()
        if user is not None:
            files = [path for path in (process.log_file, process.pid_file)
                     if path not in ("stderr", "none")]
            created = privileges.hand_over(user, files, queue.owned_file if queue else None)
            if process.pid_file in created:  # written below; gone again if a step fails first
                self.cleanup.callback(_remove_if_empty, process.pid_file)
            privileges.drop(user)
        self.cleanup.enter_context(logfile.opened(process))
        self.log_open = True
        for warning in warnings:
            log.warning("%s", warning)
        pid_file = PidFile.write(process.pid_file)
        if pid_file is not None:
            self.cleanup.callback(pid_file.remove)
        backend = self._open_backend(queue)
        notifier = systemd.Notifier()
        self.cleanup.callback(notifier.close)
        server = Server(config, bound, backend, self._hooks(notifier), monitor=monitor)
        try:
            server.replay()
        except QueueError as exc:
            raise SetupError(f"failed to reload queue: {exc}") from None
        # Shown at every --verbose level: at NOTICE it would be hidden by the default, ERROR.
        logs.log_whatever_the_level(
            logs.NOTICE, f"{version_text()} started: pid {os.getpid()}"
            + (f", user {user.name}" if user else "")
            + f", listening on {listeners.describe(bound)}, {_threads(config.threads)}, "
            + (_monitor_text(monitor) if monitor is not None else "")
            + f"queue {backend.name if backend else 'builtin (not persistent)'}")
        tune_gc()
        return server.serve()

    def _listen(self, context: ssl.SSLContext | None) -> list[Listener]:
        """systemd's sockets when it passed some, else the settings' listeners bound. The
        monitor's, when systemd passed one, is kept for ``_bind_monitor``."""
        inherited = systemd.inherited_sockets()
        monitor = self.config.monitor
        if inherited and monitor.monitor_port is not None:
            self.monitor_socket = listeners.take_monitor_socket(
                inherited, monitor.monitor_listen, monitor.monitor_port)
            if self.monitor_socket is not None:
                self.cleanup.callback(self.monitor_socket.close)
                if not inherited:
                    raise SetupError("socket activation: systemd passed only the monitor port's "
                                     "socket (add a ListenStream= for the job port)")
        if inherited:
            bound = listeners.inherited(inherited, self.config.listeners, context)
        else:
            bound = listeners.bind(self.config.listeners, self.config.network.backlog, context)
        self.cleanup.callback(listeners.close, bound)
        return bound

    def _bind_monitor(self, context: ssl.SSLContext | None) -> MonitorEndpoint | None:
        """The monitor port: systemd's socket for it, or bound before -u like the job ports
        (it may be below 1024)."""
        settings = self.config.monitor
        if settings.monitor_port is None:
            return None
        if self.monitor_socket is not None:
            self.monitor_socket.setblocking(True)  # as a socket bound here is
            return MonitorEndpoint(self.monitor_socket, context, from_systemd=True)
        try:
            sock = socket.create_server((settings.monitor_listen, settings.monitor_port),
                                        family=_family(settings.monitor_listen),
                                        backlog=64, reuse_port=False)
        except (OSError, ValueError) as exc:
            raise SetupError(f"cannot listen on the monitor port {settings.monitor_listen}:"
                             f"{settings.monitor_port}: {exc}") from None
        self.cleanup.callback(sock.close)
        return MonitorEndpoint(sock, context)

    def _prepare_queue(self) -> PreparedQueue | None:
        """The queue backend, drivers loaded but not connected (before -u)."""
        try:
            prepared = prepare(self.config.queue)
        except (OSError, QueueError, ValueError) as exc:
            raise SetupError(str(exc)) from None
        if prepared is not None:
            # Disposing is idempotent: the backend and the server dispose of it too.
            self.cleanup.callback(prepared.dispose)
        return prepared

    def _open_backend(self, prepared: PreparedQueue | None) -> QueueBackend | None:
        """Connect and prepare the store (as the user the server runs as)."""
        if prepared is None:
            return None
        try:
            return prepared.open()
        except (OSError, QueueError, ValueError) as exc:
            raise SetupError(str(exc)) from None

    def _hooks(self, notifier: systemd.Notifier) -> Hooks:
        """What the server's milestones mean for this process."""

        def ready(status: str) -> None:
            self.signals.serving()
            if self.detached is not None:
                self.detached.ready()
            notifier.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

        if not notifier.enabled:
            return Hooks(ready=ready)
        watchdog = notifier.watchdog_every

        def heartbeat(status: str) -> None:
            notifier.notify(f"STATUS={status}", *(["WATCHDOG=1"] if watchdog else []))

        return Hooks(ready=ready,
                     stopping=lambda: notifier.notify("STOPPING=1", "STATUS=stopping"),
                     heartbeat=heartbeat,
                     heartbeat_every=min(STATUS_EVERY, watchdog or STATUS_EVERY))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _monitor_text(monitor: MonitorEndpoint) -> str:
    """``monitor 127.0.0.1:9418 (socket from systemd), `` for the startup line."""
    host, port = monitor.sock.getsockname()[:2]
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"monitor {where} ({'socket from systemd' if monitor.from_systemd else 'bound'}), "


def _threads(count: int) -> str:
    if count == 0:
        return "1 thread (-t 0)"
    if count == 1:
        return "1 I/O and processing thread (-t 1)"
    return f"{count} I/O threads and a processing thread"


def _remove_if_empty(path: str) -> None:
    try:
        if os.path.getsize(path) == 0:
            os.unlink(path)
    except OSError:
        pass


def _print(line: str) -> None:
    print(line, file=sys.stderr)
