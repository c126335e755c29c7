"""At the -f descriptor limit the server backs off from accepting instead of spinning: accept()
fails with EMFILE while the listener stays readable, and retrying at once ran a thread at 100%
CPU writing megabytes of "accept failed" per second (issue 10). Clients that could not be
accepted wait in the listen queue and are served once descriptors free up."""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests.support.servers import ServerProcess, start_server

LIMIT = 64
WINDOW = 2.0  # seconds of connecting at the limit


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process (all its threads) has used, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def try_connect(server: ServerProcess, timeout: float = 0.5) -> socket.socket | None:
    try:
        return socket.create_connection(server.address, timeout=timeout)
    except OSError:
        return None


def answers_version(server: ServerProcess) -> bool:
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"version\r\n")
        return sock.recv(100).startswith(b"OK ")


@pytest.fixture(params=["0", "4"], ids=["t0", "t4"])
def limited(request: pytest.FixtureRequest):
    server = start_server("gearmand-py", ["-t", request.param, "-f", str(LIMIT),
                                          "--verbose", "NOTICE"])
    yield server
    server.stop()


def test_at_the_descriptor_limit_the_server_backs_off_and_serves_again_once_under_it(limited):
    server = limited
    held = [s for s in (try_connect(server) for _ in range(LIMIT + 20)) if s is not None]
    try:
        assert wait_for(lambda: "accept failed" in server.log()), server.log()[-2000:]
        log_before = len(server.log())
        cpu_before = cpu_seconds(server.proc.pid)
        deadline = time.monotonic() + WINDOW
        attempts = 0
        while time.monotonic() < deadline:
            sock = try_connect(server, timeout=0.2)
            attempts += 1
            if sock is not None:
                sock.close()
            time.sleep(0.01)
        cpu_used = cpu_seconds(server.proc.pid) - cpu_before
        grown = server.log()[log_before:]
        assert attempts >= 5
        # Before the fix: a thread at 100% (about WINDOW CPU seconds) and megabytes of log.
        assert cpu_used < 0.5, f"{cpu_used:.2f} CPU seconds in {WINDOW} s at the limit"
        assert len(grown) < 2000, f"{len(grown)} bytes of log in {WINDOW} s: {grown[:500]!r}"
        assert server.log().count("accept failed") == 1
    finally:
        for sock in held:
            sock.close()
    assert answers_version(server)
    assert wait_for(lambda: "accepting connections again" in server.log()), server.log()[-2000:]
    assert server.proc.poll() is None
