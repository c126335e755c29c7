"""The listen queue: gearmand-py listens with a backlog of 4096 by default (gearmand: 32), so
clients connecting faster than the server accepts, or while it is busy, are queued by the kernel
instead of dropped into a one-second SYN retry (issue 10: 10,000 sequential reconnects took over
200 s at -t 4 with a queue of 32)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.prerequisites import require
from tests.support.servers import ServerProcess, start_server

THREADS = [pytest.param("0", id="t0"), pytest.param("4", id="t4")]
BURST = 300


def somaxconn() -> int:
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


def listen_queue_size(server: ServerProcess) -> int:
    """The listening socket's backlog as the kernel holds it: ``ss -ltn``'s Send-Q column."""
    require(shutil.which("ss"), "ss is not installed: apt-get install iproute2")
    out = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[2])


def listed_connections(server: ServerProcess) -> int:
    """Connections `workers` lists, besides the asking one."""
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(b"workers\r\n")
        reply = b""
        while not reply.endswith(b".\n"):
            chunk = sock.recv(1 << 20)
            assert chunk, "closed during `workers`"
            reply += chunk
    return reply.count(b"\n") - 2


@pytest.mark.parametrize("threads", THREADS)
def test_the_default_listen_backlog_is_4096_as_far_as_the_kernel_allows(threads):
    server = start_server("gearmand-py", ["-t", threads])
    try:
        assert listen_queue_size(server) == min(4096, somaxconn())
    finally:
        server.stop()


def test_backlog_option_sets_the_listen_queue():
    server = start_server("gearmand-py", ["-b", "100"])
    try:
        assert listen_queue_size(server) == 100
    finally:
        server.stop()


@pytest.mark.parametrize("threads", THREADS)
def test_a_burst_of_connects_while_the_server_cannot_accept_is_queued_then_served(threads):
    """The server is stopped (SIGSTOP) while 300 clients connect: every connect completes in the
    kernel (with a queue of 32, the 34th waits for a queue slot and times out), and once the
    server runs again it accepts them all."""
    server = start_server("gearmand-py", ["-t", threads])
    clients: list[socket.socket] = []
    try:
        server.proc.send_signal(signal.SIGSTOP)
        try:
            for _ in range(BURST):
                clients.append(socket.create_connection(server.address, timeout=5))
        finally:
            server.proc.send_signal(signal.SIGCONT)
        # At -t 4 an earlier asking connection may still be listed for a moment: at least.
        deadline = time.monotonic() + 30
        while (listed := listed_connections(server)) < BURST and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listed >= BURST
    finally:
        for sock in clients:
            sock.close()
        server.stop()
