"""``--ssl``: the whole gear port is TLS, admin commands included, at -t 0 and -t 4; certificates
the tests make; a plaintext client gets no service; startup refuses missing or mismatched files;
``--ssl-verify-clients`` (mutual TLS) refuses clients without a certificate from the CA; a client
that stalls in its handshake delays nobody."""

from __future__ import annotations

import select
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.test_process import THREADS, read_packet, request
from tests.support.certs import Certs, make_certs
from tests.support.servers import REPO, ServerProcess, free_port, repo_env, start_server

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gear")

CAN_DO, GRAB_JOB, JOB_ASSIGN, WORK_COMPLETE = 1, 9, 11, 13
SUBMIT_JOB, JOB_CREATED, SUBMIT_JOB_BG, ECHO_REQ, ECHO_RES = 7, 8, 18, 16, 17


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def client_context(certs: Certs, cert: Path | None = None, key: Path | None = None
                   ) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def tls_args(certs: Certs) -> list[str]:
    return ["--ssl", "--ssl-certificate", str(certs.server_cert), "--ssl-key",
            str(certs.server_key), "--ssl-ca-file", str(certs.ca)]


@pytest.fixture(params=THREADS)
def server(request: pytest.FixtureRequest, certs: Certs) -> Iterator[ServerProcess]:
    proc = start_server("gearmand-py", [*request.param, *tls_args(certs)],
                        tls=client_context(certs))
    yield proc
    proc.stop()


def admin(sock: socket.socket, line: bytes) -> bytes:
    sock.sendall(line + b"\n")
    reply = b""
    while not (reply.endswith(b"\n.\n") or reply == b".\n" or reply.startswith(b"OK")
               and reply.endswith(b"\n")):
        chunk = sock.recv(65536)
        assert chunk, "closed"
        reply += chunk
    return reply


def test_jobs_and_admin_commands_over_tls(server: ServerProcess) -> None:
    with server.connect() as worker, server.connect() as client:
        assert worker.version() in ("TLSv1.2", "TLSv1.3")
        worker.sendall(request(CAN_DO, b"rev") + request(ECHO_REQ, b"ready"))
        assert read_packet(worker) == (ECHO_RES, b"ready")
        client.sendall(request(SUBMIT_JOB, b"rev", b"", b"over tls"))
        ptype, handle = read_packet(client)
        assert ptype == JOB_CREATED
        worker.sendall(request(GRAB_JOB))
        assert read_packet(worker) == (JOB_ASSIGN, handle + b"\0rev\0over tls")
        worker.sendall(request(WORK_COMPLETE, handle, b"slt revo"))
        assert read_packet(client) == (WORK_COMPLETE, handle + b"\0slt revo")
        client.sendall(request(SUBMIT_JOB_BG, b"rev", b"bg-1", b"later"))
        assert read_packet(client)[0] == JOB_CREATED
        assert b"rev\t1\t0\t1\n" in admin(client, b"status")
        assert admin(client, b"version").startswith(b"OK 1.1.20")


def test_large_replies_go_through_tls_whole_and_in_order(server: ServerProcess) -> None:
    """Megabytes of echoes pipelined while the replies come back: TLS writes that do not finish
    at once are resumed. (One thread drives the client's SSLSocket: two may not share one.)"""
    payloads = [bytes([i]) * (256 * 1024 + i) for i in range(16)]
    expected = b"".join(struct.pack(">4sII", b"\0RES", ECHO_RES, len(p)) + p for p in payloads)
    with server.connect(timeout=30) as sock:
        sock.setblocking(False)
        out = memoryview(b"".join(request(ECHO_REQ, p) for p in payloads))
        received = bytearray()
        deadline = time.monotonic() + 60
        while len(received) < len(expected):
            assert time.monotonic() < deadline, f"{len(received)} bytes received"
            readable, writable, _ = select.select([sock], [sock] if out else [], [], 5)
            if writable:
                try:
                    out = out[sock.send(out[:65536]):]
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            while readable or sock.pending():
                readable = []
                try:
                    chunk = sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    break
                assert chunk, "closed"
                received += chunk
    assert bytes(received) == expected


def test_the_gear_library_with_a_client_certificate(server: ServerProcess, certs: Certs) -> None:
    """OpenDev's ``gear``, the one Python client with TLS, which always sends a certificate."""
    gear = pytest.importorskip("gear")
    keys = dict(ssl_key=str(certs.client_key), ssl_cert=str(certs.client_cert),
                ssl_ca=str(certs.ca))
    worker = gear.Worker("tls-worker")
    client = gear.Client("tls-client")
    try:
        worker.addServer("127.0.0.1", server.port, **keys)
        worker.waitForServer(timeout=10)
        worker.registerFunction("upper")
        client.addServer("127.0.0.1", server.port, **keys)
        client.waitForServer(timeout=10)
        jobs = [gear.Job("upper", b"fg over tls"), gear.Job("upper", b"bg over tls")]
        client.submitJob(jobs[0], timeout=10)
        client.submitJob(jobs[1], background=True, timeout=10)
        for _ in jobs:
            job = worker.getJob()
            job.sendWorkComplete(job.arguments.upper())
        deadline = time.monotonic() + 10
        while not jobs[0].complete and time.monotonic() < deadline:
            time.sleep(0.05)
        assert jobs[0].data == [b"FG OVER TLS"]
        assert jobs[1].handle.startswith(b"H:")
    finally:
        client.shutdown()
        worker.shutdown()


def test_a_plaintext_client_gets_no_service(server: ServerProcess) -> None:
    with socket.create_connection(server.address, timeout=5) as plain:
        plain.sendall(request(ECHO_REQ, b"in clear"))
        received = b""
        try:
            while chunk := plain.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
        assert b"in clear" not in received
    # ... and costs nothing else.
    with server.connect() as sock:
        sock.sendall(request(ECHO_REQ, b"still served"))
        assert read_packet(sock) == (ECHO_RES, b"still served")


def test_a_client_stalled_in_its_handshake_delays_nobody(server: ServerProcess) -> None:
    """A connection that sends nothing, and one that sends half a ClientHello, hold no thread:
    with -t 0 there is only one."""
    with socket.create_connection(server.address, timeout=5) as silent, \
            socket.create_connection(server.address, timeout=5) as halfway:
        halfway.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello begun
        for _ in range(3):
            with server.connect() as sock:
                sock.sendall(request(ECHO_REQ, b"not delayed"))
                assert read_packet(sock) == (ECHO_RES, b"not delayed")
        for stalled in (silent, halfway):  # still open: the server waits for them
            stalled.setblocking(False)
            with pytest.raises(BlockingIOError):
                stalled.recv(1)


@pytest.mark.parametrize("threads", THREADS)
def test_a_handshake_not_done_in_time_is_closed(certs: Certs, threads: list[str]) -> None:
    """``--ssl-handshake-timeout``: a silent connection and one stalled halfway through its
    ClientHello are closed once it has passed, and the server goes on serving."""
    proc = start_server("gearmand-py", [*threads, *tls_args(certs), "--ssl-handshake-timeout",
                                        "1", "--verbose", "INFO"], tls=client_context(certs))
    try:
        with socket.create_connection(proc.address, timeout=5) as silent, \
                socket.create_connection(proc.address, timeout=5) as halfway:
            halfway.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            started = time.monotonic()
            for stalled in (silent, halfway):
                try:
                    assert stalled.recv(1) == b""  # closed by the server
                except ConnectionResetError:
                    pass
            assert 0.8 < time.monotonic() - started < 4
            with proc.connect() as sock:  # a handshake done in time is kept
                time.sleep(1.5)
                sock.sendall(request(ECHO_REQ, b"served"))
                assert read_packet(sock) == (ECHO_RES, b"served")
        assert proc.log().count("not done in 1 s; closing it") == 2
    finally:
        proc.stop()


# -- mutual TLS ---------------------------------------------------------------------------------

@pytest.fixture(params=THREADS)
def mtls_server(request: pytest.FixtureRequest, certs: Certs) -> Iterator[ServerProcess]:
    proc = start_server("gearmand-py", [*request.param, *tls_args(certs), "--ssl-verify-clients",
                                        "--verbose", "INFO"],
                        tls=client_context(certs, certs.client_cert, certs.client_key))
    yield proc
    proc.stop()


def refused(server: ServerProcess, ctx: ssl.SSLContext) -> bool:
    """Whether the server refuses a client with ``ctx``: the handshake fails, or (TLS 1.3, where
    the client finishes first) the first read does."""
    try:
        with ctx.wrap_socket(socket.create_connection(server.address, timeout=5),
                             server_hostname="localhost") as sock:
            sock.sendall(request(ECHO_REQ, b"let me in"))
            return read_packet(sock) != (ECHO_RES, b"let me in")
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError):
        return True


def test_mutual_tls_refuses_clients_without_a_valid_certificate(mtls_server: ServerProcess,
                                                                certs: Certs) -> None:
    assert refused(mtls_server, client_context(certs))
    assert refused(mtls_server, client_context(certs, certs.stranger_cert, certs.stranger_key))
    with mtls_server.connect() as sock:
        sock.sendall(request(ECHO_REQ, b"known worker"))
        assert read_packet(sock) == (ECHO_RES, b"known worker")
    log = mtls_server.log()
    assert "client certificate O=gearmand-py tests,CN=test worker" in log.replace(
        "organizationName", "O").replace("commonName", "CN")


# -- startup errors -------------------------------------------------------------------------------

def start_failure(*args: str) -> str:
    """What gearmand-py prints when it refuses to start with ``args``; it must exit 1."""
    done = subprocess.run([sys.executable, "-m", "gearmand_py", "-p", str(free_port()),
                           "-L", "127.0.0.1", "--log-file", "stderr", *args],
                          cwd=REPO, env=repo_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done
    return done.stderr.strip().splitlines()[-1]


def test_startup_refuses_a_missing_certificate(tmp_path: Path, certs: Certs) -> None:
    missing = tmp_path / "nope.pem"
    assert start_failure("--ssl", "--ssl-certificate", str(missing), "--ssl-key",
                         str(certs.server_key)) == (
        f"gearmand-py: --ssl-certificate {missing}: No such file or directory")


def test_startup_refuses_gearmands_default_files_when_absent() -> None:
    assert start_failure("--ssl") == (
        "gearmand-py: --ssl-certificate /etc/ssl/certs/gearmand.pem: No such file or directory")


def test_the_environment_names_the_files(certs: Certs, tmp_path: Path) -> None:
    missing = tmp_path / "env.key"
    done = subprocess.run([sys.executable, "-m", "gearmand_py", "-p", str(free_port()),
                           "--log-file", "stderr", "--ssl"], cwd=REPO,
                          env=dict(repo_env(), GEARMAND_SERVER_PEM=str(certs.server_cert),
                                   GEARMAND_SERVER_KEY=str(missing)),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().endswith(f"--ssl-key {missing}: No such file or directory")


def test_startup_refuses_a_key_that_does_not_match(certs: Certs) -> None:
    assert start_failure("--ssl", "--ssl-certificate", str(certs.server_cert), "--ssl-key",
                         str(certs.other_key)) == (
        f"gearmand-py: --ssl-certificate {certs.server_cert} and --ssl-key {certs.other_key}: "
        "the key does not match the certificate")


def test_startup_refuses_a_file_that_is_not_pem(certs: Certs, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    line = start_failure("--ssl", "--ssl-certificate", str(junk), "--ssl-key",
                         str(certs.server_key))
    assert line.startswith(f"gearmand-py: --ssl-certificate {junk} and --ssl-key")


def test_startup_refuses_a_key_it_cannot_read(certs: Certs, tmp_path: Path) -> None:
    """(Root reads any file, so a directory stands for the unreadable key.)"""
    assert start_failure("--ssl", "--ssl-certificate", str(certs.server_cert), "--ssl-key",
                         str(tmp_path)) == f"gearmand-py: --ssl-key {tmp_path}: Is a directory"


def test_mutual_tls_needs_a_readable_ca(certs: Certs, tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    assert start_failure(*tls_args(certs)[:-2], "--ssl-ca-file", str(missing),
                         "--ssl-verify-clients") == (
        f"gearmand-py: --ssl-ca-file {missing}: No such file or directory")


def test_verifying_clients_needs_ssl() -> None:
    assert start_failure("--ssl-verify-clients") == "gearmand-py: --ssl-verify-clients needs --ssl"
