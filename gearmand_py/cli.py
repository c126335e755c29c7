"""The ``gearmand-py`` command: gearmand's command line, then the server.

``main`` parses the options (:mod:`gearmand_py.settings`), refuses the ones gearmand-py cannot
honour yet (better than silently running without a persistent queue or TLS the user asked
for), and sets the process up inside :func:`prepared` before handing the settings to
``gearmand_py.server.run``.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
from contextlib import contextmanager
from typing import Iterator, Sequence

from gearmand_py import logs
from gearmand_py.settings import (DEFAULT_LOG_FILE, DEFAULT_PID_FILE, PROG, SETTINGS,
                                  UNSUPPORTED_QUEUES, parse_args)

logger = logging.getLogger(__name__)


class SetupError(Exception):
    """A startup step failed; ``main`` prints the message and exits 1, as gearmand does."""


def refused(settings: argparse.Namespace) -> list[str]:
    """Why each option the user set (a value other than its default) cannot be honoured yet."""
    messages = []
    for s in SETTINGS:
        value = getattr(settings, s.name, s.default)
        if s.supported or value == s.default:
            continue
        if s.name == "protocol" and value != "http":
            messages.append(f"Unknown protocol module : {value}")  # gearmand's words
        else:
            messages.append(f"{s.long_flag} is not supported yet")
    if settings.queue_type in UNSUPPORTED_QUEUES:
        messages.append(f"--queue-type {settings.queue_type} is not supported yet")
    return messages


def _configure_logging(settings: argparse.Namespace) -> None:
    """-l/--syslog/--verbose. Like gearmand, an unusable default log file falls back to stderr;
    unlike gearmand, an unusable file the user named is an error rather than a surprise."""
    try:
        logs.configure(settings.verbose, settings.log_file, settings.syslog)
    except OSError as e:
        if settings.log_file != DEFAULT_LOG_FILE:
            raise SetupError(
                f'Could not open log file "{settings.log_file}" ({e.strerror})') from None
        print(f'{PROG}: Could not open log file "{settings.log_file}", switching to stderr. '
              f"({e.strerror})", file=sys.stderr)
        logs.configure(settings.verbose, "stderr", settings.syslog)


def _set_file_descriptors(count: int) -> None:
    """-f: the soft limit becomes ``count``, raising the hard limit if needed (root only)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < count:
        hard = count
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))
    except (OSError, ValueError) as e:
        raise SetupError(
            f"Failed to set limit for the number of file descriptors to {count}. Try running as "
            f"root or giving a smaller value to -f. ({e})") from None


def _enable_coredump() -> None:
    """--coredump: unlimited core files, or as large as the hard limit lets an unprivileged user."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (OSError, ValueError):
        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
        logger.warning("--coredump: core file size limited to the hard limit %s", hard)


def _write_pid_file(path: str) -> str | None:
    """Write our pid; return the absolute path to remove later, or None if it was not written.

    As in gearmand, only a pid file the user asked for must succeed.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as e:
        message = f"Could not open pid file for writing: {path} ({e.strerror})"
        if path != DEFAULT_PID_FILE:
            raise SetupError(message) from None
        logger.warning(message)
        return None
    return os.path.abspath(path)


@contextmanager
def prepared(settings: argparse.Namespace) -> Iterator[None]:
    """Log destination and level, resource limits and pid file for the server's lifetime.

    The pid file is removed and the log handlers closed on the way out. Raises SetupError.
    """
    _configure_logging(settings)
    try:
        if settings.file_descriptors is not None:
            _set_file_descriptors(settings.file_descriptors)
        if settings.coredump:
            _enable_coredump()
        pid_file = _write_pid_file(settings.pid_file)
        try:
            yield
        finally:
            if pid_file is not None:
                try:
                    os.unlink(pid_file)
                except FileNotFoundError:
                    pass
    finally:
        logs.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run gearmand-py with a gearmand command line; returns the exit status (0 or 1)."""
    try:
        settings = parse_args(argv)
    except SystemExit as stop:  # -h, -V, or a bad option (already reported)
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    messages = refused(settings)
    for message in messages:
        print(f"{PROG}: {message}", file=sys.stderr)
    if messages:
        return 1
    if settings.check_args:
        return 0
    try:
        with prepared(settings):
            from gearmand_py.server import run

            return run(settings)
    except SetupError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
