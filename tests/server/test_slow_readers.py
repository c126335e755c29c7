"""A peer that stops reading: its replies wait for it in order, the server stops reading from it
instead of buffering without bound, and everyone else is served meanwhile.

The processing thread writes replies straight to sockets; what a socket does not take goes
through the connection's I/O loop until that loop has written it all. These tests drive that
hand-off and back at -t 0 and -t 4.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from tests.server.test_process import THREADS, read_packet, request
from tests.support.servers import ServerProcess, start_server

CAN_DO, ECHO_REQ, ECHO_RES = 1, 16, 17
PAYLOAD = 64 * 1024
COUNT = 1024  # 64 MiB of echoes: far more than the socket buffers and the 4 MiB high-water mark


def payload(i: int) -> bytes:
    return struct.pack(">I", i) * (PAYLOAD // 4)


@pytest.fixture(params=THREADS)
def server(request: pytest.FixtureRequest) -> ServerProcess:
    proc = start_server("gearmand-py", request.param)
    yield proc
    proc.stop()


class Sender(threading.Thread):
    """Sends COUNT echo requests on a blocking socket, counting what the kernel took."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.sent = 0

    def run(self) -> None:
        for i in range(COUNT):
            data = request(ECHO_REQ, payload(i))
            view = memoryview(data)
            while view:
                n = self.sock.send(view)
                view = view[n:]
                self.sent += n


def echo_round_trip(address: tuple[str, int]) -> float:
    with socket.create_connection(address, timeout=5) as other:
        start = time.monotonic()
        other.sendall(request(ECHO_REQ, b"still there?"))
        assert read_packet(other) == (ECHO_RES, b"still there?")
        return time.monotonic() - start


# A worker's replies are written as soon as its packets are handled, a client's at the end of
# the processing turn: both paths must keep the order and the back-pressure.
@pytest.mark.parametrize("role", ["client", "worker"])
def test_replies_wait_in_order_for_a_peer_that_stops_reading(server: ServerProcess,
                                                              role: str) -> None:
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(server.address)
    slow.settimeout(30)
    if role == "worker":
        slow.sendall(request(CAN_DO, b"slow_reader"))
    with slow:
        sender = Sender(slow)
        sender.start()
        time.sleep(2)
        # The server stopped reading from it: most of the 64 MiB is still unsent.
        assert sender.sent < COUNT * PAYLOAD // 2, sender.sent
        assert sender.is_alive()
        # Nobody else waits for it.
        assert echo_round_trip(server.address) < 2
        # Now it reads: every echo arrives, whole and in order.
        for i in range(COUNT):
            assert read_packet(slow) == (ECHO_RES, payload(i)), f"echo {i}"
        sender.join(10)
        assert not sender.is_alive()
        # With nothing left over, replies are written directly again, still in order.
        slow.sendall(request(ECHO_REQ, b"a") + request(ECHO_REQ, b"b"))
        assert [read_packet(slow), read_packet(slow)] == [(ECHO_RES, b"a"), (ECHO_RES, b"b")]


def test_a_peer_that_leaves_with_replies_pending_costs_nothing_else(server: ServerProcess) -> None:
    for _ in range(3):
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(server.address)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        slow.sendall(b"".join(request(ECHO_REQ, payload(i)) for i in range(64)))
        time.sleep(0.3)
        slow.close()  # RST with 4 MiB of replies undelivered
    assert echo_round_trip(server.address) < 2
    assert connections_left(server.address, 5) == 1  # only the one asking


def listed_connections(address: tuple[str, int]) -> int:
    with socket.create_connection(address, timeout=5) as admin:
        admin.sendall(b"workers\r\n")
        listing = b""
        while not listing.endswith(b".\n"):
            listing += admin.recv(65536)
    return listing.count(b"\n") - 1


def connections_left(address: tuple[str, int], timeout: float) -> int:
    """``listed_connections`` once it is down to the one asking, or when ``timeout`` is up.

    Each listing is a new connection, and the server may hear of the previous one's close
    after it answers the next (at -t 4 the two can be on different I/O threads), so one listing
    of more than one is not yet a connection left behind."""
    deadline = time.monotonic() + timeout
    listed = listed_connections(address)
    while listed > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        listed = listed_connections(address)
    return listed


# -- what a peer that does not read costs in memory ------------------------------------------------

SUBMIT_JOB, GRAB_JOB, JOB_ASSIGN, WORK_DATA, WORK_COMPLETE = 7, 9, 11, 28, 13
JOB_CREATED, NOOP = 8, 6
MB = 1024 * 1024
#: How much the server's resident memory may grow for a peer that does not read.
STALLED_PEER_BUDGET = 32 * MB


def memory(server: ServerProcess, field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak so far) of the server, in bytes."""
    with open(f"/proc/{server.proc.pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{server.proc.pid}/status")


def slow_socket(server: ServerProcess) -> socket.socket:
    """A connection with a small receive buffer, so what it does not read stays in the server."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(server.address)
    sock.settimeout(30)
    return sock


def read_until_stalled(sender: threading.Thread, progress: Callable[[], int]) -> int:
    """Wait until ``sender`` finishes or its progress stops for a second; return the progress."""
    last = -1
    deadline = time.monotonic() + 120
    while sender.is_alive() and time.monotonic() < deadline:
        now = progress()
        if now == last:
            break
        last = now
        sender.join(1)
    return progress()


class Streamer(threading.Thread):
    """A worker that streams ``total`` bytes of WORK_DATA for one job, then completes it."""

    CHUNK = 64 * 1024

    def __init__(self, sock: socket.socket, handle: bytes, total: int) -> None:
        super().__init__(daemon=True)
        self.sock, self.handle, self.total = sock, handle, total
        self.sent = 0

    def run(self) -> None:
        packet = request(WORK_DATA, self.handle, b"x" * self.CHUNK)
        try:
            while self.sent < self.total:
                self.sock.sendall(packet)
                self.sent += self.CHUNK
            self.sock.sendall(request(WORK_COMPLETE, self.handle, b"done"))
        except OSError:  # the test shut the worker down
            pass


def running_job(server: ServerProcess) -> tuple[socket.socket, socket.socket, bytes]:
    """A client that does not read, waiting for a job of ``stream`` that a worker now runs."""
    client = slow_socket(server)
    worker = socket.create_connection(server.address, timeout=30)
    client.sendall(request(SUBMIT_JOB, b"stream", b"", b"go"))
    handle = read_packet(client)[1]
    worker.sendall(request(CAN_DO, b"stream") + request(GRAB_JOB))
    assert read_packet(worker) == (JOB_ASSIGN, handle + b"\0stream\0go")
    return client, worker, handle


def stream_status(address: tuple[str, int]) -> bytes:
    with socket.create_connection(address, timeout=5) as admin:
        admin.sendall(b"status\n")
        listing = read_admin_reply(admin)
    return next(line for line in listing.split(b"\n") if line.startswith(b"stream\t"))


def test_work_data_for_a_client_that_does_not_read_slows_its_worker(server: ServerProcess) -> None:
    """300 MB of WORK_DATA for a client that never reads: the server stops reading the worker
    instead of buffering it all; once the client reads, everything arrives in order."""
    total = 300 * MB
    client, worker, handle = running_job(server)
    with client, worker:
        baseline = memory(server, "VmRSS")
        streamer = Streamer(worker, handle, total)
        streamer.start()
        sent = read_until_stalled(streamer, lambda: streamer.sent)
        assert sent < total, "the worker was never slowed down"
        assert memory(server, "VmHWM") - baseline <= STALLED_PEER_BUDGET
        # Nobody else waits for them.
        assert echo_round_trip(server.address) < 5
        # The client reads at last: every chunk arrives, then the result.
        received = 0
        while received < total:
            ptype, body = read_packet(client)
            assert ptype == WORK_DATA and len(body) == len(handle) + 1 + Streamer.CHUNK
            received += Streamer.CHUNK
        assert read_packet(client) == (WORK_COMPLETE, handle + b"\0done")
        streamer.join(30)
        assert not streamer.is_alive()
        assert memory(server, "VmHWM") - baseline <= STALLED_PEER_BUDGET


def read_admin_reply(sock: socket.socket) -> bytes:
    reply = b""
    while not reply.endswith(b"\n.\n"):
        chunk = sock.recv(65536)
        assert chunk, "closed"
        reply += chunk
    return reply


def test_admin_replies_wait_for_a_client_that_does_not_read(server: ServerProcess) -> None:
    """Pipelined ``status`` lines (a 100 KB reply each) from a client that never reads: the
    server answers them as the client reads, not all at once into memory."""
    lines = 2048  # 14 KB of "status\n": one recv
    worker = socket.create_connection(server.address, timeout=30)
    admin = socket.create_connection(server.address, timeout=30)
    with worker, admin:
        worker.sendall(b"".join(request(CAN_DO, b"function-%05d" % i) for i in range(5000))
                       + request(ECHO_REQ, b"registered"))
        assert read_packet(worker) == (ECHO_RES, b"registered")
        admin.sendall(b"status\n")
        reply = read_admin_reply(admin)
        assert reply.count(b"\n") == 5001
        baseline = memory(server, "VmRSS")
        client = slow_socket(server)
        with client:
            client.sendall(b"status\n" * lines)
            time.sleep(1)
            assert echo_round_trip(server.address) < 5
            assert memory(server, "VmHWM") - baseline <= STALLED_PEER_BUDGET
            # Every reply arrives, whole and in order, as the client reads.
            expected = reply * 2
            received = 0
            while received < lines * len(reply):
                chunk = client.recv(65536)
                assert chunk, f"closed after {received} bytes"
                offset = received % len(reply)
                assert chunk == expected[offset:offset + len(chunk)]
                received += len(chunk)
            assert received == lines * len(reply)
            assert memory(server, "VmHWM") - baseline <= STALLED_PEER_BUDGET
            client.sendall(b"version\n")
            assert client.recv(100).startswith(b"OK")


@pytest.mark.parametrize("leaver", ["client", "worker"])
def test_a_stalled_client_or_its_slowed_worker_can_leave(server: ServerProcess,
                                                         leaver: str) -> None:
    """Either side of a stalled relay going away leaves nothing behind: a worker slowed for a
    client that leaves runs on; a slowed worker that leaves is forgotten once its client goes."""
    client, worker, handle = running_job(server)
    streamer = Streamer(worker, handle, 64 * MB)
    streamer.start()
    assert read_until_stalled(streamer, lambda: streamer.sent) < 64 * MB
    if leaver == "client":
        client.close()
        streamer.join(60)
        assert not streamer.is_alive() and streamer.sent == 64 * MB
        worker.sendall(request(ECHO_REQ, b"still served"))
        assert read_packet(worker) == (ECHO_RES, b"still served")
        assert stream_status(server.address) == b"stream\t0\t0\t1"  # the job completed
        worker.close()
    else:
        worker.shutdown(socket.SHUT_RDWR)
        worker.close()
        streamer.join(10)
        client.close()
    assert connections_left(server.address, 10) == 1  # only the one asking
    assert stream_status(server.address).endswith(b"\t0\t0")  # nothing running, no worker


# -- one large job -----------------------------------------------------------------------------

JOB_SIZE = 60 * MB
#: Besides the job's data and its result, which both live until the job completes (gearmand's peak
#: too), what the interpreter allocates meanwhile: objects, per-thread malloc arenas.
INTERPRETER_SLACK = 4 * MB


def run_job(client: socket.socket, worker: socket.socket, data: bytes, result: bytes) -> None:
    """Submit ``data`` from ``client``, run it on ``worker`` (which can do ``big``) and return
    ``result``; check every byte on the way."""
    client.sendall(request(SUBMIT_JOB, b"big", b"", data))
    ptype, handle = read_packet(client)
    assert ptype == JOB_CREATED
    worker.sendall(request(GRAB_JOB))
    assert read_packet(worker) == (JOB_ASSIGN, handle + b"\0big\0" + data)
    worker.sendall(request(WORK_COMPLETE, handle, result))
    assert read_packet(client) == (WORK_COMPLETE, handle + b"\0" + result)


def test_a_large_job_costs_at_most_twice_its_size(server: ServerProcess) -> None:
    """A 60 MB job and its 60 MB result pass through the server without copies: the peak
    resident memory stays within the job's data plus its result (as gearmand's), and it is
    given back afterwards."""
    data = bytes(range(256)) * (JOB_SIZE // 256)
    result = data[::-1]
    client = socket.create_connection(server.address, timeout=60)
    worker = socket.create_connection(server.address, timeout=60)
    with client, worker:
        worker.sendall(request(CAN_DO, b"big") + request(ECHO_REQ, b"ready"))
        assert read_packet(worker) == (ECHO_RES, b"ready")
        baseline = memory(server, "VmRSS")
        run_job(client, worker, data, result)
        peak = memory(server, "VmHWM") - baseline
        assert peak <= 2 * JOB_SIZE + INTERPRETER_SLACK, f"peak {peak / MB:.1f} MB above idle"
        left = memory(server, "VmRSS") - baseline
        assert left <= JOB_SIZE // 10, f"{left / MB:.1f} MB left behind"


def test_large_and_small_replies_to_a_slow_reader_keep_their_order(server: ServerProcess) -> None:
    """Large fields wait for a slow reader as they are, small replies are copied: the two kinds
    still leave in the order they were made."""
    sizes = [3 * MB // 2, 10, 5 * MB // 2, 100, 1, 2 * MB] * 3
    slow = slow_socket(server)
    with slow:
        requests = b"".join(request(ECHO_REQ, bytes([i]) * size) for i, size in enumerate(sizes))
        sender = threading.Thread(target=slow.sendall, args=(requests,), daemon=True)
        sender.start()
        time.sleep(0.5)
        for i, size in enumerate(sizes):
            assert read_packet(slow) == (ECHO_RES, bytes([i]) * size), f"echo {i}"
        sender.join(10)
