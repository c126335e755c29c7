"""When the server itself fails: a request whose handling raises costs its connection only,
and a thread that dies stops the whole process with a non-zero status, at every ``-t``, so a
supervisor restarts it instead of seeing a process that listens but never answers.

The failures are planted in a real server process (``prelude``) because, by design, no client
input reaches them any more.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from gearmand_py.server.fatal import EXIT_SOFTWARE
from tests.server.test_process import THREADS, closed_by_server, read_packet, request
from tests.support.build import COMPILED
from tests.support.servers import ServerProcess, start_server

#: The failures are planted by patching classes, which compiled callers never see (they call
#: the compiled methods directly); CI runs this module on the pure build.
pytestmark = pytest.mark.skipif(COMPILED, reason="plants failures by patching pure-Python classes")

ECHO_REQ, ECHO_RES, SUBMIT_JOB_BG, JOB_CREATED = 16, 17, 18, 8

BROKEN_ECHO = """
from gearmand_py.core.engine import Engine
original = Engine._echo
def _echo(self, peer, args):
    if args[0] == b"boom":
        raise RuntimeError("planted")
    original(self, peer, args)
Engine._echo = _echo
"""
BROKEN_DECODER = """
from gearmand_py.protocol.codec import Decoder
original = Decoder.feed
def feed(self, data):
    if b"kaboom" in data:
        raise RuntimeError("planted")
    return original(self, data)
Decoder.feed = feed
"""
BROKEN_JOURNAL = """
from gearmand_py.core.engine import Engine
def journaled(self, jobs, error):
    raise RuntimeError("planted")
Engine.journaled = journaled
"""
BROKEN_WRITER = """
from gearmand_py.server.queue_writer import QueueWriter
def _commit(self, adds):
    raise RuntimeError("planted")
QueueWriter._commit = _commit
"""
BROKEN_ADD = """
from gearmand_py.server.io_loop import IOLoop
original = IOLoop._add
count = [0]
def _add(self, sock, ip, front_end):
    count[0] += 1
    if count[0] == 3:  # the readiness probes come first
        raise RuntimeError("planted")
    original(self, sock, ip, front_end)
IOLoop._add = _add
"""


def echo(address: tuple[str, int], data: bytes) -> bytes:
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(request(ECHO_REQ, data))
        ptype, body = read_packet(sock)
        assert ptype == ECHO_RES
        return body


def exit_status(server: ServerProcess, timeout: float = 15.0) -> int:
    try:
        return server.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not exit:\n{server.log()}")


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("fault, payload, logged", [
    (BROKEN_ECHO, b"boom", "internal error handling ECHO_REQ on connection"),
    (BROKEN_DECODER, b"kaboom", "internal error on connection"),
], ids=["processing", "io"])
def test_a_failing_request_costs_its_connection_only(threads: list[str], fault: str,
                                                     payload: bytes, logged: str) -> None:
    server = start_server("gearmand-py", threads, prelude=fault)
    try:
        with socket.create_connection(server.address, timeout=5) as victim:
            victim.sendall(request(ECHO_REQ, payload))
            assert closed_by_server(victim)
        assert echo(server.address, b"still here") == b"still here"
        assert server.proc.poll() is None
        assert server.log().count(logged) == 1
        assert "RuntimeError: planted" in server.log()
    finally:
        server.stop()


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("fault, thread", [
    (BROKEN_JOURNAL, "processing"),
    (BROKEN_WRITER, "queue-writer"),
], ids=["processing", "queue-writer"])
def test_a_thread_that_dies_stops_the_server(threads: list[str], fault: str, thread: str,
                                             tmp_path) -> None:
    server = start_server("gearmand-py", [*threads, "-q", "libsqlite3", "--libsqlite3-db",
                                          str(tmp_path / "q.db")], prelude=fault)
    try:
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(request(SUBMIT_JOB_BG, b"f", b"", b"data"))
            assert closed_by_server(client, timeout=15)
        assert exit_status(server) == EXIT_SOFTWARE
        if thread == "processing" and threads == ["-t", "0"]:
            thread = "MainThread"  # -t 0 processes in the main thread
        assert f"internal error in the {thread} thread; stopping the server" in server.log()
    finally:
        server.stop()


@pytest.mark.parametrize("threads", THREADS)
def test_a_dead_io_loop_stops_the_server(threads: list[str]) -> None:
    server = start_server("gearmand-py", threads, prelude=BROKEN_ADD)
    try:
        socket.create_connection(server.address, timeout=5).close()
        assert exit_status(server) == EXIT_SOFTWARE
        assert "stopping the server" in server.log()
    finally:
        server.stop()
