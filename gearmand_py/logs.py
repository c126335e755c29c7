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
import logging.handlers
import os
import sys
import threading

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

SYSLOG_SOCKET = "/dev/log"

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


class SyslogUnavailable(OSError):
    """--syslog was asked for but there is no syslog daemon to talk to."""


def _syslog_handler() -> logging.Handler:
    """A handler for the local syslog daemon, with gearmand's extra levels mapped to priorities."""
    if not os.path.exists(SYSLOG_SOCKET):
        raise SyslogUnavailable(f"{SYSLOG_SOCKET} does not exist (is a syslog daemon running?)")
    try:
        handler = logging.handlers.SysLogHandler(address=SYSLOG_SOCKET)
    except OSError as e:
        raise SyslogUnavailable(f"cannot connect to {SYSLOG_SOCKET}: {e.strerror or e}") from None
    handler.priority_map = dict(handler.priority_map, FATAL="emerg", ALERT="alert", NOTICE="notice")
    handler.ident = f"gearmand-py[{os.getpid()}]: "
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return handler


def configure(level: str, log_file: str, use_syslog: bool = False) -> None:
    """Send the ``gearmand_py`` log to ``log_file`` (a path, ``stderr`` or ``none``) and, with
    ``use_syslog``, also to syslog, at gearmand level ``level``.

    Raises :class:`SyslogUnavailable` or, when the file cannot be opened, OSError; nothing is
    changed then, so the caller can fall back. Replaces whatever an earlier call set up.
    """
    handlers: list[logging.Handler] = [_syslog_handler()] if use_syslog else []
    try:
        if log_file == "stderr":
            handlers.append(logging.StreamHandler(sys.stderr))
        elif log_file != "none":
            handlers.append(ReopenableFileHandler(log_file, encoding="utf-8"))
    except OSError:
        for handler in handlers:
            handler.close()
        raise
    close()
    for handler in handlers:
        if not isinstance(handler, logging.handlers.SysLogHandler):
            handler.setFormatter(GearmandFormatter())
        logger.addHandler(handler)
    if not handlers:
        logger.addHandler(logging.NullHandler())
    # The server's log goes only where --log-file/--syslog say, never to a root handler too.
    logger.propagate = False
    logger.setLevel(LEVELS[level])


def close() -> None:
    """Undo :func:`configure`: close our handlers and let records propagate again."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


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
