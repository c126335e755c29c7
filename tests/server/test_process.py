"""gearmand-py as a process: start, serve, refuse hostile input, stop on signals."""

from __future__ import annotations

import os
import signal
import socket
import struct
import time

import pytest

from tests.support.servers import ServerProcess, start_server

THREADS = [pytest.param(["-t", "0"], id="t0"), pytest.param(["-t", "1"], id="t1"),
           pytest.param(["-t", "4"], id="t4")]


def request(ptype: int, *args: bytes) -> bytes:
    body = b"\0".join(args)
    return struct.pack(">4sII", b"\0REQ", ptype, len(body)) + body


def read_packet(sock: socket.socket) -> tuple[int, bytes]:
    header = recv_exact(sock, 12)
    magic, ptype, size = struct.unpack(">4sII", header)
    assert magic == b"\0RES"
    return ptype, recv_exact(sock, size)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def closed_by_server(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


@pytest.fixture(params=THREADS)
def server(request: pytest.FixtureRequest):
    proc = start_server("gearmand-py", request.param)
    yield proc
    proc.stop()


def connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(server.address, timeout=5)
    return sock


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("args", THREADS)
def test_stops_cleanly_on_signal_and_removes_pid_file(args: list[str], sig: int) -> None:
    server = start_server("gearmand-py", args)
    pid_file = server.workdir / "server.pid"
    assert pid_file.read_text().strip() == str(server.proc.pid)
    held = connect(server)  # an open connection must not keep the server alive
    held.sendall(request(1, b"some-function"))
    server.proc.send_signal(sig)
    assert server.proc.wait(10) == 0
    assert not pid_file.exists()
    held.close()
    server.stop()


def test_oversized_header_gets_error_and_close_without_waiting_for_body() -> None:
    server = start_server("gearmand-py", ["-t", "2", "--max-packet-size", "1024"])
    try:
        sock = connect(server)
        sock.sendall(struct.pack(">4sII", b"\0REQ", 16, 2**31 - 1))
        ptype, body = read_packet(sock)
        assert (ptype, body) == (19, b"ARGUMENT_TOO_LARGE\0Packet too large")
        assert closed_by_server(sock)
        # A packet at the limit is fine.
        ok = connect(server)
        ok.sendall(request(16, b"x" * 1024))
        assert read_packet(ok) == (17, b"x" * 1024)
    finally:
        server.stop()


def test_garbage_on_many_connections_leaves_the_server_serving(server: ServerProcess) -> None:
    hostile = []
    for i in range(50):
        sock = connect(server)
        sock.sendall(os.urandom(200 + i) if i % 2 else b"\0XYZ" + os.urandom(40))
        hostile.append(sock)
    for sock in hostile:
        sock.close()
    client = connect(server)
    client.sendall(request(16, b"still here"))
    assert read_packet(client) == (17, b"still here")


def test_malformed_packet_gets_error_and_stream_stays_in_sync(server: ServerProcess) -> None:
    sock = connect(server)
    # WORK_COMPLETE needs a NUL after the handle; gearmand reads past the packet here.
    sock.sendall(request(13, b"no-nul-handle") + request(16, b"next"))
    assert read_packet(sock) == (19, b"INVALID_PACKET\0Packet has too few arguments")
    assert read_packet(sock) == (17, b"next")


def test_many_idle_connections_are_listed_by_workers(server: ServerProcess) -> None:
    conns = [connect(server) for _ in range(200)]
    admin = connect(server)
    deadline = time.monotonic() + 10
    while True:  # with -t 4 the last connections may still be on their way to the core
        admin.sendall(b"workers\r\n")
        data = b""
        while not data.endswith(b"\n.\n"):
            data += admin.recv(1 << 20)
        if data.count(b"\n") == 202 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert data.count(b"\n") == 202  # 200 + the admin connection + ".\n"
    for sock in conns:
        sock.close()


def test_client_disconnect_mid_stream_does_not_disturb_others(server: ServerProcess) -> None:
    worker = connect(server)
    worker.sendall(request(1, b"fn") + request(30))
    assert read_packet(worker) == (10, b"")
    leaver = connect(server)
    leaver.sendall(request(7, b"fn", b"", b"abandoned"))
    assert read_packet(leaver)[0] == 8
    leaver.close()
    stayer = connect(server)
    stayer.sendall(request(7, b"fn", b"", b"kept"))
    handle = read_packet(stayer)[1]
    time.sleep(0.2)  # let the disconnect reach the processing thread
    worker.sendall(request(30))
    assert read_packet(worker) == (31, handle + b"\0fn\0\0kept")


@pytest.mark.parametrize("epoch", [b"1" + b"0" * 400, b"9" * 5000], ids=["400-digits", "5000-digits"])
def test_epoch_beyond_64_bits_is_refused_and_the_server_serves_on(server: ServerProcess,
                                                                epoch: bytes) -> None:
    """One such packet used to end the process at -t 0 and leave a server that listened but
    answered nothing at -t 4."""
    sock = connect(server)
    sock.sendall(request(36, b"f", b"", epoch, b"data"))
    assert read_packet(sock) == (19, b"ARGUMENT_TOO_LARGE\0Epoch value out of range")
    sock.sendall(request(36, b"f", b"", b"9223372036854775807", b"data")  # the largest epoch
                 + request(12, b"H:x:1", b"9" * 5000, b"9" * 5000)      # WORK_STATUS, not owned
                 + b"maxqueue f " + b"9" * 5000 + b"\r\n")
    assert read_packet(sock)[0] == 8  # JOB_CREATED
    assert read_packet(sock) == (19, b"JOB_NOT_FOUND\0Job given in work result not found")
    assert recv_exact(sock, 4) == b"OK\r\n"
    other = connect(server)
    other.sendall(request(16, b"still here"))
    assert read_packet(other) == (17, b"still here")
    assert server.proc.poll() is None
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("args, threads, line", [
    (["-t", "0"], 1, "1 thread (-t 0)"),
    (["-t", "1"], 2, "1 I/O and processing thread (-t 1)"),
    (["-t", "3"], 5, "3 I/O threads and a processing thread"),
], ids=["t0", "t1", "t3"])
def test_threads_follow_gearmands_model(args: list[str], threads: int, line: str) -> None:
    """gearmand: -t 1 is one thread that reads, runs and writes every request beside the
    listener; a separate processing thread starts with the second I/O thread."""
    server = start_server("gearmand-py", args)
    try:
        assert len(os.listdir(f"/proc/{server.proc.pid}/task")) == threads
        assert f", {line}, queue builtin" in server.log()
        with connect(server) as sock:
            sock.sendall(request(16, b"ping"))  # ECHO_REQ
            assert read_packet(sock) == (17, b"ping")
    finally:
        server.stop()
