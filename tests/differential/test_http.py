"""``-r http`` on gearmand 1.1.20 and on gearmand-py, where 1.1.20 is right: the same function,
unique, background and priority handling, and the same ``X-Gearman-*`` headers. The requests are
HTTP/1.0, which both answer in HTTP/1.0 and then close (1.1.20 closes after every response; what
gearmand-py does beyond that, and where 1.1.20 is wrong, is in tests/server/test_http.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.server.test_http import Worker, status_row, wait_status
from tests.support.prerequisites import require
from tests.support.servers import GEARMAND, free_port, gearmand_available, start_server

KINDS = ["gearmand", "gearmand-py"]


class Server:
    def __init__(self, kind: str) -> None:
        self.http_port = free_port()
        self.server = start_server(kind, ["-t", "2", "-r", "http", "--http-port",
                                          str(self.http_port)])


@pytest.fixture(params=KINDS)
def srv(request: pytest.FixtureRequest) -> Iterator[Server]:
    require(gearmand_available(),
            f"Debian's gearmand ({GEARMAND}) is not installed: apt-get install gearman-job-server")
    server = Server(request.param)
    yield server
    server.server.stop()


def post(server: Server, path: str, body: bytes, *headers: str) -> tuple[bytes, dict[str, str],
                                                                         bytes]:
    """An HTTP/1.0 POST: the status line, the X-Gearman-* headers and Content-Length, the body."""
    lines = [f"POST {path} HTTP/1.0", f"Content-Length: {len(body)}", *headers]
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, rest = reply.partition(b"\r\n\r\n")
    status, *fields = head.decode().split("\r\n")
    kept = {name.lower(): value for name, _, value in (f.partition(": ") for f in fields)
            if name.lower().startswith("x-gearman-") or name.lower() == "content-length"}
    return status.encode(), kept, rest


def handle_shape(handle: str) -> str:
    """``H:<host>:<n>`` with the number kept, the host left out (the two name it alike)."""
    prefix, _, number = handle.rpartition(":")
    return f"H:*:{number}" if prefix.startswith("H:") else handle


def test_background_jobs_priorities_and_uniques(srv: Server) -> None:
    bg = "X-Gearman-Background: true"
    replies = [post(srv, "/job", b"low", bg, "X-Gearman-Priority: low"),
               post(srv, "/job", b"normal", bg),
               post(srv, "/job", b"high", bg, "X-Gearman-Priority: HIGH"),
               post(srv, "/job", b"normal", bg),  # unique "-": the same body is the same job
               post(srv, "/job", b"normal", bg, "X-Gearman-Unique: mine")]
    shapes = [(status, {k: handle_shape(v) if k == "x-gearman-job-handle" else v
                        for k, v in fields.items()}, body) for status, fields, body in replies]
    assert shapes[0] == (b"HTTP/1.0 200 OK", {"x-gearman-job-handle": "H:*:1",
                                              "x-gearman-command": "JOB_CREATED",
                                              "content-length": "0"}, b"")
    assert [s[1]["x-gearman-job-handle"] for s in shapes] == ["H:*:1", "H:*:2", "H:*:3",
                                                              "H:*:2", "H:*:4"]
    assert status_row(srv.server, b"job") == b"job\t4\t0\t0"
    worker = Worker(srv.server, b"job", hold=True)
    try:
        assert [worker.grab()[1] for _ in range(4)] == [b"high", b"normal", b"normal", b"low"]
    finally:
        worker.close()


def test_a_foreground_job_answers_with_its_result(srv: Server) -> None:
    worker = Worker(srv.server, b"rev")
    try:
        status, fields, body = post(srv, "/rev", b"hello")
        assert (status, fields["x-gearman-command"], fields["content-length"], body) == (
            b"HTTP/1.0 200 OK", "WORK_COMPLETE", "5", b"olleh")
        assert handle_shape(fields["x-gearman-job-handle"]) == "H:*:1"
    finally:
        worker.close()


def test_the_path_minus_slashes_is_the_function(srv: Server) -> None:
    post(srv, "//deep/name", b"x", "X-Gearman-Background: true")
    wait_status(srv.server, b"deep/name", b"deep/name\t1\t0\t0")
