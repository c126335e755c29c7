"""Logging the way gearmand logs: its eight levels, its line format, its log destinations.

gearmand's levels are syslog's (FATAL=LOG_EMERG ... DEBUG=LOG_DEBUG). Python has five of them,
so NOTICE and ALERT become custom levels, and FATAL sits above CRITICAL (Python's own
``logging.FATAL`` is only an alias of CRITICAL, which would lose gearmand's ordering).
Everything logs under the ``gearmand_py`` logger (``logging.getLogger(__name__)`` in any
``gearmand_py.*`` module is a child of it).
"""

from __future__ import annotations

import datetime
import logging
import socket
import sys
import threading

from gearmand_py.verbosity import verbosity

LOGGER_NAME = "gearmand_py"

FATAL = 60
ALERT = 55
NOTICE = 25

#: gearmand level name -> Python level, most severe first.
LEVELS: dict[str, int] = {
    "FATAL": FATAL,
    "ALERT": ALERT,
    "CRITICAL": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "NOTICE": NOTICE,
    "INFO": logging.INFO,
    "DEBUG": logging.DEBUG,
}

for _name in ("FATAL", "ALERT", "NOTICE"):
    logging.addLevelName(LEVELS[_name], _name)

#: Where --syslog sends the log (read when the log is configured, so a test can point it at its
#: own socket before the server starts).
SYSLOG_SOCKET = "/dev/log"
#: The name syslog lines carry (gearmand's is ``gearmand``).
SYSLOG_IDENT = "gearmand-py"

logger = logging.getLogger(LOGGER_NAME)


class GearmandFormatter(logging.Formatter):
    """``   INFO 2026-11-22 23:10:01.123456 [  main ] message``, as gearmand writes lines."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M:%S.%f")
        thread = "main" if record.threadName == threading.main_thread().name else record.threadName
        line = f"{record.levelname:>7} {when} [{thread:>6} ] {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class ReopenableFileHandler(logging.FileHandler):
    """A log file that SIGHUP can reopen after logrotate moved it away."""

    def reopen(self) -> None:
        """Open the path afresh; if that fails the old file stays in use and OSError is raised."""
        fresh = self._open()
        with self.lock:
            old, self.stream = self.stream, fresh
        if old is not None:
            old.close()


def _syslog_socket_type(path: str) -> int:
    """The socket type the syslog daemon at ``path`` takes (datagram, else stream, as glibc's
    openlog tries them). Raises the datagram attempt's OSError when neither connects."""
    failure: OSError | None = None
    for socktype in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_UNIX, socktype) as probe:
            try:
                probe.connect(path)
            except OSError as e:
                failure = failure or e
                continue
        return socktype
    assert failure is not None
    raise failure


def _syslog_handler(path: str) -> logging.Handler:
    """A handler for the syslog daemon at ``path``: facility user, gearmand's eight levels as
    their syslog priorities, lines as gearmand's ``syslog(level, "%7s %s", ...)`` writes them.
    The pid is the record's, so it stays right in a child that forked after this was made.
    Raises OSError when no daemon listens there."""
    import logging.handlers  # here: only --syslog needs it (and the pickle it loads)

    handler = logging.handlers.SysLogHandler(address=path, socktype=_syslog_socket_type(path))
    handler.priority_map = dict(handler.priority_map, FATAL="emerg", ALERT="alert", NOTICE="notice")
    line = f"{SYSLOG_IDENT}[%(process)d]: %(levelname)7s %(message)s"
    handler.setFormatter(logging.Formatter(line))
    return handler


def log_whatever_the_level(level: int, message: str,
                           fallback: logging.Handler | None = None) -> None:
    """Log ``message`` at ``level`` even when --verbose hides that level (the default, ERROR,
    hides warnings and news alike), for what the user must hear of whatever the level. When
    the log goes nowhere (``--log-file none`` without syslog) it goes to ``fallback``, if any."""
    record = logger.makeRecord(logger.name, level, __file__, 0, message, None, None)
    if any(not isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.handle(record)
    elif fallback is not None:
        fallback.setFormatter(GearmandFormatter())
        fallback.handle(record)


def configure(level: str, log_file: str, use_syslog: bool = False) -> None:
    """Send the ``gearmand_py`` log to ``log_file`` (a path, ``stderr`` or ``none``) and, with
    ``use_syslog``, also to the syslog daemon at SYSLOG_SOCKET, at gearmand level ``level``.

    Raises OSError when the file cannot be opened; nothing is changed then, so the caller can
    fall back. Without a syslog daemon the server runs on, as gearmand does, and the other log
    says so. Replaces whatever an earlier call set up.
    """
    handlers: list[logging.Handler] = []
    if log_file == "stderr":
        handlers.append(logging.StreamHandler(sys.stderr))
    elif log_file != "none":
        handlers.append(ReopenableFileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(GearmandFormatter())
    missing_syslog = None
    if use_syslog:
        try:
            handlers.append(_syslog_handler(SYSLOG_SOCKET))
        except OSError as e:
            missing_syslog = (f"--syslog: no syslog daemon at {SYSLOG_SOCKET} ({e.strerror or e}); "
                              "logging without syslog")
    close()
    for handler in handlers:
        logger.addHandler(handler)
    if not handlers:
        logger.addHandler(logging.NullHandler())
    # The server's log goes only where --log-file/--syslog say, never to a root handler too.
    logger.propagate = False
    logger.setLevel(LEVELS[level])
    verbosity.refresh(logger.getEffectiveLevel())
    if missing_syslog is not None:
        # The user asked for a log that is missing: say so, on stderr if there is no other log.
        log_whatever_the_level(logging.WARNING, missing_syslog, logging.StreamHandler(sys.stderr))


def close() -> None:
    """Undo :func:`configure`: close our handlers and let records propagate again."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
    verbosity.refresh(logger.getEffectiveLevel())


def reopen() -> None:
    """Reopen the log file (gearmand does this on SIGHUP). A failure is logged to the old file."""
    for handler in logger.handlers:
        if isinstance(handler, ReopenableFileHandler):
            try:
                handler.reopen()
            except OSError as e:
                logger.error("Could not reopen log file %s: %s", handler.baseFilename, e.strerror)


def level_name() -> str:
    """The current level as gearmand names it, e.g. ``ERROR``: the admin ``verbose`` reply."""
    effective = logger.getEffectiveLevel()
    for name, value in LEVELS.items():
        if value <= effective:
            return name
    return "DEBUG"
