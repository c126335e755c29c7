"""--syslog as gearmand does it: to the local syslog socket, gearmand's levels as syslog
priorities, and a server that runs on (saying so in its other log) when no syslog daemon listens.
The level flags the per-packet log lines check follow --verbose."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import pytest

from gearmand_py import logs
from tests.support.servers import start_server

#: gearmand level -> syslog priority (util/log.hpp: VERBOSE_FATAL= LOG_EMERG ... LOG_DEBUG).
PRIORITIES = {"FATAL": 0, "ALERT": 1, "CRITICAL": 2, "ERROR": 3, "WARNING": 4, "NOTICE": 5,
              "INFO": 6, "DEBUG": 7}
USER_FACILITY = 1 << 3


@pytest.fixture
def syslog_daemon(tmp_path: Path):
    """A datagram socket standing in for the syslog daemon's /dev/log."""
    path = tmp_path / "dev-log"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as daemon:
        daemon.bind(str(path))
        daemon.settimeout(10)
        yield daemon, str(path)


@pytest.fixture(autouse=True)
def close_logs():
    yield
    logs.close()


def pointed_at(path: str) -> str:
    """A prelude that makes the server look for the syslog daemon at ``path``."""
    return f"from gearmand_py import logs\nlogs.SYSLOG_SOCKET = {path!r}"


def test_every_gearmand_level_has_its_syslog_priority(syslog_daemon, monkeypatch):
    daemon, path = syslog_daemon
    monkeypatch.setattr(logs, "SYSLOG_SOCKET", path)
    logs.configure("DEBUG", "none", use_syslog=True)
    log = logging.getLogger("gearmand_py.test")
    for name in PRIORITIES:
        log.log(logs.LEVELS[name], "at %s", name)
    for name, priority in PRIORITIES.items():
        # gearmand: syslog(level, "%7s %s", level name, message); openlog(..., LOG_PID, LOG_USER)
        expected = f"<{USER_FACILITY + priority}>gearmand-py[{os.getpid()}]: {name:>7} at {name}"
        assert daemon.recv(1000) == expected.encode() + b"\0"


def test_server_logs_to_syslog(syslog_daemon):
    daemon, path = syslog_daemon
    server = start_server("gearmand-py", ["--syslog", "--verbose", "INFO"],
                          prelude=pointed_at(path))
    try:
        seen: dict[int, bytes] = {}
        deadline = time.monotonic() + 10
        while not {5, 6} <= seen.keys() and time.monotonic() < deadline:
            message = daemon.recv(4000)
            seen.setdefault(int(message[1:message.index(b">")]) - USER_FACILITY, message)
    finally:
        server.stop()
    ident = f"gearmand-py[{server.proc.pid}]: ".encode()
    assert seen[5].split(b">", 1)[1].startswith(ident + b" NOTICE ")  # e.g. Listening on ...
    assert seen[6].split(b">", 1)[1].startswith(ident + b"   INFO ")  # e.g. a connection


@pytest.mark.parametrize("daemon_state", ["missing", "not listening"])
def test_server_without_syslog_daemon_runs_and_says_so(tmp_path, daemon_state):
    path = tmp_path / "dev-log"
    if daemon_state == "not listening":  # a syslog daemon that died leaves its socket behind
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
            gone.bind(str(path))
    server = start_server("gearmand-py", ["--syslog"], prelude=pointed_at(str(path)))
    try:
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"version\r\n")
            assert client.recv(100).startswith(b"OK ")
        # At the default level (ERROR) too: the log the user asked for is missing.
        warning = [line for line in server.log().splitlines() if line.startswith("WARNING")]
        assert len(warning) == 1 and f"--syslog: no syslog daemon at {path} (" in warning[0]
    finally:
        assert server.stop() == 0


def test_without_syslog_daemon_or_other_log_the_warning_goes_to_stderr(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setattr(logs, "SYSLOG_SOCKET", str(tmp_path / "dev-log"))
    logs.configure("ERROR", "none", use_syslog=True)
    err = capsys.readouterr().err
    assert err.startswith("WARNING ") and "--syslog: no syslog daemon at" in err


@pytest.mark.parametrize("level,info,debug", [
    ("ERROR", False, False), ("NOTICE", False, False), ("INFO", True, False),
    ("DEBUG", True, True),
])
def test_level_flags_follow_the_verbose_level(level, info, debug):
    logs.configure(level, "none")
    assert (logs.verbosity.info, logs.verbosity.debug) == (info, debug)
    logs.close()
    assert not logs.verbosity.info and not logs.verbosity.debug
