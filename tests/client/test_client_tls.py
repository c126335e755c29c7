"""The client library over TLS (``ssl_context``): round trips with the modern API, the
python-gearman API and the admin client at the server's -t 0 and -t 4; mutual TLS with and
without a client certificate; a plaintext client to a TLS server and a TLS client to a
plaintext server fail with an error that says so and fail over to the next server; a server
that never answers the handshake costs the connect timeout, then the next server is used."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest

import gearmand_py.client.compat as gearman
from gearmand_py.client import (
    Client, ConnectionLost, ServerUnavailable, Worker, tls_context,
)
from gearmand_py.client.servers import order_for
from tests.client.harness import hosts, in_thread, worker_thread
from tests.server.test_process import THREADS
from tests.support.certs import Certs, make_certs
from tests.support.servers import ServerProcess, start_server

BIG = bytes(range(256)) * 1024  # 256 KiB: many TLS records each way


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def server_args(certs: Certs, verify_clients: bool = False) -> list[str]:
    return ["--ssl", "--ssl-certificate", str(certs.server_cert), "--ssl-key",
            str(certs.server_key), "--ssl-ca-file", str(certs.ca),
            *(["--ssl-verify-clients"] if verify_clients else [])]


def with_client_cert(certs: Certs) -> ssl.SSLContext:
    return tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))


@pytest.fixture(scope="module", params=THREADS)
def tls_server(request: pytest.FixtureRequest, certs: Certs) -> Iterator[ServerProcess]:
    server = start_server("gearmand-py", [*request.param, *server_args(certs)],
                          tls=tls_context(str(certs.ca)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mutual_server(certs: Certs) -> Iterator[ServerProcess]:
    server = start_server("gearmand-py", ["-t", "2", *server_args(certs, verify_clients=True)],
                          tls=with_client_cert(certs))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain_server() -> Iterator[ServerProcess]:
    server = start_server("gearmand-py")
    yield server
    server.stop()


def modern_worker(servers: list[str], ctx: ssl.SSLContext | None) -> Worker:
    worker = Worker(servers, ssl_context=ctx, connect_timeout=1)

    @worker.task
    def echo(job):  # type: ignore[no-untyped-def]
        job.status(1, 2)
        job.send_data(job.data[:3])
        return job.data
    return worker


def unique_for(index: int, count: int = 2) -> str:
    """A unique whose hashed server is ``index`` of ``count``."""
    return next(u for u in (f"u{n}" for n in range(1000))
                if order_for(u.encode(), count)[0] == index)


def test_modern_api_round_trips(tls_server: ServerProcess, certs: Certs) -> None:
    ctx = tls_context(str(certs.ca))
    worker = modern_worker(hosts(tls_server), ctx)
    with in_thread(worker.run, worker.stop), Client(hosts(tls_server), ssl_context=ctx) as client:
        futures = [client.submit("echo", f"job {n}") for n in range(20)]
        assert client.wait(futures, 10)
        assert [f.result() for f in futures] == [f"job {n}".encode() for n in range(20)]
        assert futures[0].progress == (1, 2) and futures[0].data == [b"job"]
        big = client.submit("echo", BIG)
        assert big.result(10) == BIG
        handle = client.submit("nobody-serves", b"later", background=True)
        status = client.status(handle)
        assert status.known and not status.running


def test_compat_api_round_trips(tls_server: ServerProcess, certs: Certs) -> None:
    ctx = tls_context(str(certs.ca))
    addresses = hosts(tls_server)
    with worker_thread(addresses, {"rev": lambda w, job: job.data[::-1]}, ssl_context=ctx):
        client = gearman.GearmanClient(addresses, ssl_context=ctx)
        request = client.submit_job("rev", "over tls", poll_timeout=10)
        assert (request.state, request.result) == (gearman.JOB_COMPLETE, "slt revo")
        requests = client.submit_multiple_jobs([dict(task="rev", data=str(n)) for n in range(50)],
                                               poll_timeout=10)
        assert [r.result for r in requests] == [str(n)[::-1] for n in range(50)]
        big = "x" * 100_000 + "y"
        assert client.submit_job("rev", big, poll_timeout=10).result == big[::-1]


def test_admin_client(tls_server: ServerProcess, certs: Certs) -> None:
    ctx = tls_context(str(certs.ca))
    addresses = hosts(tls_server)
    with worker_thread(addresses, {"admin-fn": lambda w, job: job.data}, client_id="tls-w",
                       ssl_context=ctx):
        admin = gearman.GearmanAdminClient(addresses, ssl_context=ctx)
        deadline = time.monotonic() + 10
        while not any(row["task"] == "admin-fn" and row["workers"] == 1
                      for row in admin.get_status()):
            assert time.monotonic() < deadline, admin.get_status()
            time.sleep(0.02)
        assert any(w["client_id"] == "tls-w" for w in admin.get_workers())
        assert admin.ping_server() < 5
        assert admin.get_version()
        admin.close()


def test_mutual_tls_with_a_client_certificate(mutual_server: ServerProcess,
                                              certs: Certs) -> None:
    ctx = with_client_cert(certs)
    worker = modern_worker(hosts(mutual_server), ctx)
    with in_thread(worker.run, worker.stop), Client(hosts(mutual_server),
                                                    ssl_context=ctx) as client:
        assert client.submit("echo", b"mutual").result(10) == b"mutual"
    admin = gearman.GearmanAdminClient(hosts(mutual_server), ssl_context=ctx)
    assert admin.ping_server() < 5


@pytest.mark.parametrize("cert", ["none", "stranger"])
def test_mutual_tls_without_an_accepted_certificate(mutual_server: ServerProcess,
                                                    certs: Certs, cert: str) -> None:
    """No client certificate, or one from a CA the server does not trust: the job fails with
    an error that says the certificate is the problem (TLS 1.3 tells the client only after
    the handshake, so it surfaces at the first send, or at the first read if that send was
    quicker than the server's alert)."""
    ctx = tls_context(str(certs.ca)) if cert == "none" else \
        tls_context(str(certs.ca), str(certs.stranger_cert), str(certs.stranger_key))
    with Client(hosts(mutual_server), ssl_context=ctx) as client:
        with pytest.raises((ConnectionLost, ServerUnavailable), match="client certificate"):
            client.submit("echo", b"refused").result(10)
    with pytest.raises(ConnectionLost, match="client certificate"):
        gearman.GearmanAdminClient(hosts(mutual_server), ssl_context=ctx).get_status()


def test_a_server_certificate_from_another_ca_is_refused(tls_server: ServerProcess,
                                                         certs: Certs) -> None:
    """The client trusts only the stranger's CA (here: its self-signed certificate)."""
    ctx = tls_context(str(certs.stranger_cert))
    with pytest.raises(ServerUnavailable, match="server certificate not accepted"):
        gearman.GearmanClient(hosts(tls_server), ssl_context=ctx).submit_job(
            "echo", "x", poll_timeout=5)


def test_a_plaintext_client_to_a_tls_server_says_so_and_fails_over(
        tls_server: ServerProcess, plain_server: ServerProcess) -> None:
    """The TLS server drops the plaintext connection; the error says a TLS server may be why.
    With a second server, the job that hashes to the TLS server completes on the plaintext
    one."""
    addresses = hosts(tls_server, plain_server)
    unique = unique_for(0)
    with worker_thread(hosts(plain_server), {"plain-fn": lambda w, job: job.data + "!"}):
        # Alone, so that a loss at the submit's send (the server may have dropped the
        # connection at the greeting already) cannot fail over: lost at the send or the read.
        with Client(hosts(tls_server)) as client:
            with pytest.raises((ConnectionLost, ServerUnavailable), match="--ssl"):
                client.submit("plain-fn", b"x", unique=unique).result(10)
        request = gearman.GearmanClient(addresses).submit_job(
            "plain-fn", "y", unique=unique, max_retries=1, poll_timeout=10)
        assert (request.state, request.result) == (gearman.JOB_COMPLETE, "y!")
        assert request.job.connection.address.port == plain_server.port


def test_a_tls_client_to_a_plaintext_server_says_so_and_fails_over(
        tls_server: ServerProcess, plain_server: ServerProcess, certs: Certs) -> None:
    """The job hashes to the plaintext server: its handshake fails at connect, so the job goes
    to the TLS server at once; the worker, registered on both, serves it from the TLS one."""
    ctx = tls_context(str(certs.ca))
    addresses = hosts(plain_server, tls_server)
    worker = modern_worker(addresses, ctx)
    with in_thread(worker.run, worker.stop), Client(addresses, ssl_context=ctx) as client:
        future = client.submit("echo", b"fails over", unique=unique_for(0))
        assert future.result(10) == b"fails over"
    with pytest.raises(ServerUnavailable, match="does not speak TLS"):
        Client(hosts(plain_server), ssl_context=ctx).submit("echo", b"x")


def test_a_stalled_handshake_times_out_and_fails_over(tls_server: ServerProcess,
                                                      certs: Certs) -> None:
    """A server that accepts TCP but never answers the ClientHello holds a connect for the
    connect timeout, not for ever; the job then goes to the next server."""
    ctx = tls_context(str(certs.ca))
    with socket.create_server(("127.0.0.1", 0)) as stalled:  # the kernel accepts; nobody reads
        addresses = [f"127.0.0.1:{stalled.getsockname()[1]}", *hosts(tls_server)]
        start = time.monotonic()
        with pytest.raises(ServerUnavailable, match="not done within 0.3 s"):
            Client(addresses[:1], ssl_context=ctx, connect_timeout=0.3).submit("echo", b"x")
        assert time.monotonic() - start < 2
        worker = modern_worker(hosts(tls_server), ctx)
        with in_thread(worker.run, worker.stop), \
                Client(addresses, ssl_context=ctx, connect_timeout=0.3) as client:
            start = time.monotonic()
            assert client.submit("echo", b"next", unique=unique_for(0)).result(10) == b"next"
            assert time.monotonic() - start < 3
