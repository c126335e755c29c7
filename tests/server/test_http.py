"""``-r http``: gearmand's HTTP protocol on ``--http-port``, against a real server at -t 0 and
-t 4, with curl, Python's http.client and raw sockets, and gear workers on the Gear port.

A request is a job: the path names the function, POST/PUT carry the workload, ``X-Gearman-*``
headers set the unique, background and priority; the response is the job's result. Beyond
gearmand 1.1.20: HTTP/1.1 keep-alive and pipelining, WORK_DATA in the body (streamed chunked),
real status codes, TLS with ``--ssl``.
"""

from __future__ import annotations

import http.client
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.server.test_process import THREADS, read_packet, request
from tests.support.certs import make_certs
from tests.server.test_slow_readers import MB, STALLED_PEER_BUDGET, connections_left, memory
from tests.support.servers import ServerProcess, free_port, start_server

CAN_DO, PRE_SLEEP, GRAB_JOB, NO_JOB, JOB_ASSIGN, NOOP = 1, 4, 9, 10, 11, 6
WORK_COMPLETE, WORK_FAIL, WORK_DATA, ECHO_REQ, ECHO_RES = 13, 14, 28, 16, 17


class HttpServer:
    """A gearmand-py with -r http; ``http`` is its HTTP address."""

    def __init__(self, args: list[str], tls: ssl.SSLContext | None = None) -> None:
        self.http_port = free_port()
        self.server = start_server("gearmand-py", [*args, "-r", "http", "--http-port",
                                                   str(self.http_port)], tls=tls)

    @property
    def http(self) -> tuple[str, int]:
        return ("127.0.0.1", self.http_port)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture(params=THREADS)
def srv(request: pytest.FixtureRequest) -> Iterator[HttpServer]:
    server = HttpServer(request.param)
    yield server
    server.stop()


class Worker(threading.Thread):
    """A gear worker for ``function``: reverses the workload; ``fail`` fails the job; ``data``
    sends two WORK_DATA, then the result 0.3 s later; ``size:N`` answers N bytes. With ``hold``,
    it answers nothing by itself: the test grabs and answers jobs (``grab``, ``answer``)."""

    def __init__(self, server: ServerProcess, function: bytes, hold: bool = False) -> None:
        super().__init__(daemon=True)
        self.sock = server.connect(timeout=30)
        self.sock.sendall(request(CAN_DO, function) + request(ECHO_REQ, b"ready"))
        assert read_packet(self.sock) == (ECHO_RES, b"ready")
        self.hold = hold
        self.held: list[tuple[bytes, bytes]] = []
        self.stopping = False
        if not hold:
            self.start()

    def run(self) -> None:
        try:
            while not self.stopping:
                job = self.grab()
                if job is None:
                    self.sock.sendall(request(PRE_SLEEP))
                    assert read_packet(self.sock)[0] == NOOP
                    continue
                self.answer(*job)
        except (OSError, EOFError):  # closed by the test, or the server stopped
            pass

    def grab(self) -> tuple[bytes, bytes] | None:
        self.sock.sendall(request(GRAB_JOB))
        ptype, body = read_packet(self.sock)
        if ptype == NO_JOB:
            return None
        assert ptype == JOB_ASSIGN
        handle, _function, data = body.split(b"\0", 2)
        return handle, data

    def answer(self, handle: bytes, data: bytes) -> None:
        if data == b"fail":
            self.sock.sendall(request(WORK_FAIL, handle))
        elif data == b"data":  # the parts first, then, after a while, the result
            self.sock.sendall(request(WORK_DATA, handle, b"part1,") +
                              request(WORK_DATA, handle, b"part2,"))
            time.sleep(0.3)
            self.sock.sendall(request(WORK_COMPLETE, handle, b"done"))
        elif data.startswith(b"size:"):  # a result of that many bytes
            self.sock.sendall(request(WORK_COMPLETE, handle, b"x" * int(data[5:])))
        else:
            self.sock.sendall(request(WORK_COMPLETE, handle, data[::-1]))

    def close(self) -> None:
        self.stopping = True
        self.sock.close()


def fetch(address: tuple[str, int], method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(*address, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def read_response(sock: socket.socket) -> http.client.HTTPResponse:
    """One response; only for the last one on ``sock`` (http.client buffers past it)."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response


def read_bodies(sock: socket.socket, count: int) -> list[bytes]:
    """The bodies of the next ``count`` responses, which carry Content-Length."""
    data, bodies = b"", []
    while len(bodies) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            length = int(data[:head_end].lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(data) >= head_end + 4 + length:
                bodies.append(data[head_end + 4:head_end + 4 + length])
                data = data[head_end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, "closed"
        data += chunk
    return bodies


def status_row(server: ServerProcess, function: bytes) -> bytes:
    with server.connect() as admin:
        admin.sendall(b"status\n")
        reply = b""
        while not reply.endswith(b".\n"):
            reply += admin.recv(65536)
    return next((line for line in reply.split(b"\n") if line.startswith(function + b"\t")), b"")


def wait_status(server: ServerProcess, function: bytes, row: bytes) -> None:
    deadline = time.monotonic() + 10
    while status_row(server, function) != row and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status_row(server, function) == row


# -- jobs -----------------------------------------------------------------------------------------

def test_a_foreground_job_answers_with_its_result(srv: HttpServer) -> None:
    worker = Worker(srv.server, b"rev")
    try:
        conn = http.client.HTTPConnection(*srv.http, timeout=10)
        conn.request("POST", "/rev", body=b"hello")
        response = conn.getresponse()
        assert (response.status, response.version, response.read()) == (200, 11, b"olleh")
        assert response.getheader("X-Gearman-Command") == "WORK_COMPLETE"
        assert response.getheader("X-Gearman-Job-Handle").startswith("H:")
        # Keep-alive: the same connection takes the next request (PUT and GET too).
        sock = conn.sock
        conn.request("PUT", "/rev", body=b"abc")
        assert conn.getresponse().read() == b"cba"
        conn.request("GET", "/rev")
        assert conn.getresponse().read() == b""
        assert conn.sock is sock
        conn.close()
    finally:
        worker.close()


def test_background_priority_and_unique_headers(srv: HttpServer) -> None:
    bg = {"X-Gearman-Background": "true"}
    low = fetch(srv.http, "POST", "/queued", b"low", {**bg, "X-Gearman-Priority": "low"})
    assert (low.status, low.getheader("X-Gearman-Command")) == (200, "JOB_CREATED")
    fetch(srv.http, "POST", "/queued", b"normal", bg)
    fetch(srv.http, "POST", "/queued", b"high", {**bg, "X-Gearman-Priority": "high"})
    # The default unique is "-": the same body is the same job; an explicit unique is its own.
    again = fetch(srv.http, "POST", "/queued", b"normal", bg)
    fetch(srv.http, "POST", "/queued", b"normal", {**bg, "X-Gearman-Unique": "u-1"})
    assert status_row(srv.server, b"queued") == b"queued\t4\t0\t0"
    worker = Worker(srv.server, b"queued", hold=True)
    try:
        grabbed = [worker.grab() for _ in range(4)]
        assert [data for _handle, data in grabbed] == [b"high", b"normal", b"normal", b"low"]
        assert again.getheader("X-Gearman-Job-Handle") == grabbed[1][0].decode()
    finally:
        worker.close()


def test_pipelined_requests_are_answered_in_order(srv: HttpServer) -> None:
    worker = Worker(srv.server, b"rev", hold=True)
    try:
        with socket.create_connection(srv.http, timeout=10) as sock:
            sock.sendall(b"POST /rev HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
                         b"POST /rev HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond")
            wait_status(srv.server, b"rev", b"rev\t2\t0\t1")
            first, second = worker.grab(), worker.grab()
            worker.answer(*second)  # the second job finishes first
            worker.answer(*first)
            assert read_bodies(sock, 2) == [b"tsrif", b"dnoces"]
    finally:
        worker.close()


def test_work_data_is_part_of_the_body(srv: HttpServer) -> None:
    worker = Worker(srv.server, b"rev")
    try:
        # HTTP/1.1: the parts are sent as they come (chunked), the result after them.
        with socket.create_connection(srv.http, timeout=10) as sock:
            sock.sendall(b"POST /rev HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\ndata")
            streamed = b""
            while not streamed.endswith(b"part2,\r\n"):  # the parts, before the result
                streamed += sock.recv(65536)
            assert b"Transfer-Encoding: chunked\r\n" in streamed and b"done" not in streamed
            rest = b""
            while not rest.endswith(b"\r\n\r\n"):
                rest += sock.recv(65536)
            assert rest.startswith(b"4\r\ndone\r\n0\r\n")
            assert b"X-Gearman-Command: WORK_COMPLETE\r\n" in rest  # in the trailer
        with socket.create_connection(srv.http, timeout=10) as sock:  # HTTP/1.0: one body
            sock.sendall(b"POST /rev HTTP/1.0\r\nContent-Length: 4\r\n\r\ndata")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.0 200 ")
        assert reply.endswith(b"\r\n\r\npart1,part2,done")
        assert b"Content-Length: 16\r\n" in reply
    finally:
        worker.close()
    conn = http.client.HTTPConnection(*srv.http, timeout=10)
    worker = Worker(srv.server, b"rev")
    try:
        conn.request("POST", "/rev", body=b"data")
        assert conn.getresponse().read() == b"part1,part2,done"
    finally:
        conn.close()
        worker.close()


def test_status_codes(srv: HttpServer) -> None:
    worker = Worker(srv.server, b"rev")
    try:
        failed = fetch(srv.http, "POST", "/rev", b"fail")
        assert (failed.status, failed.getheader("X-Gearman-Command")) == (500, "WORK_FAIL")
        assert failed.getheader("X-Gearman-Job-Handle").startswith("H:")
        assert fetch(srv.http, "GET", "/").status == 404
        assert fetch(srv.http, "DELETE", "/rev").status == 405
        with socket.create_connection(srv.http, timeout=10) as sock:
            sock.sendall(b"this is not HTTP\r\n\r\n")
            assert read_response(sock).status == 400
    finally:
        worker.close()


def test_results_held_behind_an_unfinished_response_push_back_on_their_worker(
        srv: HttpServer) -> None:
    """A request whose job nobody runs, then 40 whose results are 4 MB each: the later results
    wait for the first response, and once 4 MiB of them wait the server stops taking more from
    their worker instead of holding all 160 MB; when the first job runs, everything arrives."""
    count, size = 40, 4 * MB
    big = Worker(srv.server, b"big")
    try:
        with socket.create_connection(srv.http, timeout=30) as sock:
            baseline = memory(srv.server, "VmRSS")
            sock.sendall(b"GET /nobody HTTP/1.1\r\nHost: x\r\n\r\n" + b"".join(
                b"POST /big HTTP/1.1\r\nHost: x\r\nX-Gearman-Unique: %d\r\n"
                b"Content-Length: %d\r\n\r\nsize:%d" % (i, len(b"size:%d" % size), size)
                for i in range(count)))
            time.sleep(3)
            assert memory(srv.server, "VmHWM") - baseline <= STALLED_PEER_BUDGET + 2 * size
            queued = int(status_row(srv.server, b"big").split(b"\t")[1])
            assert queued > count // 2  # the worker was held back
            nobody = Worker(srv.server, b"nobody")
            try:
                bodies = read_bodies(sock, count + 1)
            finally:
                nobody.close()
        assert bodies[0] == b""
        assert all(body == b"x" * size for body in bodies[1:])
    finally:
        big.close()


def test_a_body_over_the_packet_limit_gets_413() -> None:
    server = HttpServer(["--max-packet-size", "1024"])
    try:
        response = fetch(server.http, "POST", "/rev", b"x" * 2048)
        assert response.status == 413
    finally:
        server.stop()


def test_a_client_that_leaves_abandons_its_job(srv: HttpServer) -> None:
    with socket.create_connection(srv.http, timeout=10) as sock:
        sock.sendall(b"POST /left HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbye")
        wait_status(srv.server, b"left", b"left\t1\t0\t0")
    assert connections_left(srv.server.address, 10) == 1  # the server has heard of the close
    worker = Worker(srv.server, b"left", hold=True)
    try:  # as for a gear client that left: the job is dropped when a worker reaches it
        assert worker.grab() is None
        assert status_row(srv.server, b"left") == b"left\t0\t0\t1"
    finally:
        worker.close()



def refuses(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


def test_a_graceful_stop_closes_both_ports_and_finishes_the_request(srv: HttpServer) -> None:
    """SIGUSR1 with an HTTP request waiting for its job: the HTTP and the Gear port both stop
    accepting (each thread that accepts lets go of both), the request is still answered, and
    the server exits."""
    worker = Worker(srv.server, b"slow", hold=True)
    try:
        with socket.create_connection(srv.http, timeout=10) as sock:
            sock.sendall(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
            wait_status(srv.server, b"slow", b"slow\t1\t0\t1")
            srv.server.proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while not (refuses(srv.http) and refuses(srv.server.address)):
                assert time.monotonic() < deadline, "a port still accepts"
                time.sleep(0.02)
            job = worker.grab()
            assert job is not None
            worker.answer(*job)
            assert read_response(sock).read() == b"ba"
        assert srv.server.proc.wait(10) == 0
    finally:
        worker.close()

# -- curl, TLS, startup ---------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(srv: HttpServer) -> None:
    worker = Worker(srv.server, b"rev")
    try:
        done = subprocess.run(["curl", "-s", "-i", "-d", "from curl",
                               f"http://127.0.0.1:{srv.http_port}/rev"],
                              capture_output=True, timeout=30)
        head, _, body = done.stdout.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"X-Gearman-Command: WORK_COMPLETE" in head
        assert body == b"lruc morf"
    finally:
        worker.close()


def test_expect_100_continue_gets_its_interim_response(srv: HttpServer) -> None:
    """The 100 comes before the body is sent; curl, told to wait 30 s for it, is answered at
    once."""
    worker = Worker(srv.server, b"rev")
    try:
        with socket.create_connection(srv.http, timeout=10) as sock:
            sock.sendall(b"POST /rev HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                         b"Content-Length: 4\r\n\r\n")
            interim = b""
            while not interim.endswith(b"\r\n\r\n"):
                chunk = sock.recv(100)
                assert chunk, "closed"
                interim += chunk
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"body")
            response = read_response(sock)
            assert (response.status, response.read()) == (200, b"ydob")
        if shutil.which("curl") is not None:
            started = time.monotonic()
            done = subprocess.run(["curl", "-s", "--expect100-timeout", "30", "-H",
                                   "Expect: 100-continue", "--data-binary", "from curl",
                                   f"http://127.0.0.1:{srv.http_port}/rev"],
                                  capture_output=True, timeout=60)
            assert done.stdout == b"lruc morf" and time.monotonic() - started < 15
    finally:
        worker.close()


def test_with_ssl_the_http_port_is_https(tmp_path) -> None:
    certs = make_certs(tmp_path)
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    server = HttpServer(["--ssl", "--ssl-certificate", str(certs.server_cert), "--ssl-key",
                         str(certs.server_key)], tls=ctx)
    worker = Worker(server.server, b"rev")
    try:
        conn = http.client.HTTPSConnection("localhost", server.http_port, context=ctx, timeout=10)
        conn.request("POST", "/rev", body=b"secret")
        assert conn.getresponse().read() == b"terces"
        conn.close()
        with socket.create_connection(server.http, timeout=10) as plain:
            plain.sendall(b"GET /rev HTTP/1.0\r\n\r\n")
            try:
                assert b"HTTP/1." not in plain.recv(4096)
            except ConnectionResetError:
                pass
    finally:
        worker.close()
        server.stop()
