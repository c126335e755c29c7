"""Several servers: coalescing by unique across clients, failover when a server dies mid-run,
a worker that reconnects after its server restarts and takes the replayed durable jobs, and a
sleeping worker that sends nothing (PRE_SLEEP/NOOP, no polling)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gearmand_py.client.compat as gearman
from gearmand_py.client.servers import order_for
from gearmand_py.client.worker import PROBE_EVERY
from tests.client.harness import hosts, worker_thread
from tests.protocol.corpus import read_events
from tests.support.servers import ServerProcess, start_server
from gearmand_py.protocol.codec import Decoder, encode
from gearmand_py.protocol.packets import NUMBERS as N


@pytest.fixture
def two_servers() -> Iterator[list[ServerProcess]]:
    servers = [start_server("gearmand-py"), start_server("gearmand-py")]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def test_a_unique_always_goes_to_its_hashed_server(two_servers: list[ServerProcess]) -> None:
    """Two clients listing the servers in the same order send a unique to the same server, so
    the server coalesces them into one job (one handle)."""
    addresses = hosts(*two_servers)
    first = gearman.GearmanClient(addresses).submit_job("hash-fn", "a", unique="same",
                                                        poll_timeout=0.3)
    second = gearman.GearmanClient(addresses).submit_job("hash-fn", "b", unique="same",
                                                         poll_timeout=0.3)
    assert first.job.handle == second.job.handle
    index = order_for(b"same", 2)[0]
    assert first.job.connection.address.port == two_servers[index].port


def test_failover_when_a_server_is_killed_mid_run(two_servers: list[ServerProcess]) -> None:
    addresses = hosts(*two_servers)
    done: list[str] = []
    with worker_thread(addresses, {"failover": lambda w, job: done.append(job.data) or job.data}):
        client = gearman.GearmanClient(addresses)
        results = []
        for i in range(60):
            if i == 20:
                two_servers[0].proc.send_signal(signal.SIGKILL)
            request = client.submit_job("failover", str(i), max_retries=2, poll_timeout=10)
            results.append((request.state, request.result))
    assert results == [(gearman.JOB_COMPLETE, str(i)) for i in range(60)]


def test_a_client_fails_over_while_jobs_are_in_flight(two_servers: list[ServerProcess]) -> None:
    """Foreground jobs already created on the server that dies are sent again on the other."""
    addresses = hosts(*two_servers)
    release = threading.Event()

    def slow(worker: gearman.GearmanWorker, job: gearman.GearmanJob) -> str:
        release.wait(10)
        return job.data

    client = gearman.GearmanClient(addresses)
    requests = client.submit_multiple_jobs(
        [dict(task="inflight", data=str(i), unique=f"u{i}") for i in range(8)],
        wait_until_complete=False, max_retries=1, poll_timeout=5)
    assert {r.job.connection.address.port for r in requests} == {s.port for s in two_servers}
    assert all(r.state == gearman.JOB_CREATED for r in requests)
    two_servers[0].proc.send_signal(signal.SIGKILL)
    two_servers[0].proc.wait(5)
    with worker_thread([addresses[1]], {"inflight": slow}):
        release.set()
        client.wait_until_jobs_completed(requests, poll_timeout=20)
    assert [(r.state, r.result) for r in requests] == [
        (gearman.JOB_COMPLETE, str(i)) for i in range(8)]


def test_all_servers_down_is_server_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(gearman.ServerUnavailable):
        gearman.GearmanClient([dead]).submit_job("nobody", "x", poll_timeout=1)


def test_worker_reconnects_after_restart_and_takes_replayed_jobs(tmp_path: Path) -> None:
    args = ["-q", "libsqlite3", "--libsqlite3-db", str(tmp_path / "queue.db")]
    server = start_server("gearmand-py", args)
    port = server.port
    busy, release = threading.Event(), threading.Event()
    done: list[str] = []

    def task(worker: gearman.GearmanWorker, job: gearman.GearmanJob) -> str:
        if job.data == "hold":
            busy.set()
            release.wait(10)
        done.append(job.data)
        return ""

    try:
        with worker_thread(hosts(server), {"durable-fn": task}):
            client = gearman.GearmanClient(hosts(server))
            client.submit_job("durable-fn", "hold", background=True)
            assert busy.wait(10)
            for i in range(5):
                client.submit_job("durable-fn", f"job-{i}", background=True)
            server.stop()
            release.set()
            server = start_server("gearmand-py", args, port=port)
            deadline = time.monotonic() + 20
            while not all(f"job-{i}" in done for i in range(5)):
                assert time.monotonic() < deadline, f"replayed jobs not taken: {done}"
                time.sleep(0.05)
    finally:
        server.stop()


def test_an_idle_worker_sleeps_until_noop() -> None:
    """Against a scripted server socket: after NO_JOB the worker sends PRE_SLEEP and then
    nothing at all until NOOP, which makes it grab again. After a job it grabs again (result
    and GRAB in one write) until such a grab finds nothing; then it sleeps after each job, but
    for one grab every PROBE_EVERY jobs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        with worker_thread([address], {"sleepy": lambda w, job: job.data}):
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                decoder = Decoder()
                assert read_events(conn, decoder, 3) == [(N.RESET_ABILITIES, ()),
                                                   (N.CAN_DO, (b"sleepy",)),
                                                   (N.GRAB_JOB_UNIQ, ())]
                conn.sendall(encode(N.NO_JOB))
                assert read_events(conn, decoder, 1) == [(N.PRE_SLEEP, ())]
                conn.settimeout(1.0)
                with pytest.raises(TimeoutError):
                    conn.recv(100)
                conn.settimeout(5)
                conn.sendall(encode(N.NOOP))
                assert read_events(conn, decoder, 1) == [(N.GRAB_JOB_UNIQ, ())]
                conn.sendall(encode(N.JOB_ASSIGN_UNIQ, b"H:x:1", b"sleepy", b"u", b"data"))
                # the first job's result goes out with a GRAB; that one finds nothing...
                assert read_events(conn, decoder, 2) == [(N.WORK_COMPLETE, (b"H:x:1", b"data")),
                                                   (N.GRAB_JOB_UNIQ, ())]
                conn.sendall(encode(N.NO_JOB))
                assert read_events(conn, decoder, 1) == [(N.PRE_SLEEP, ())]
                conn.sendall(encode(N.NOOP))
                assert read_events(conn, decoder, 1) == [(N.GRAB_JOB_UNIQ, ())]

                def after_job(number: int) -> int:
                    """Assign job ``number``; what the worker sends after its result."""
                    handle = b"H:x:%d" % number
                    conn.sendall(encode(N.JOB_ASSIGN_UNIQ, handle, b"sleepy", handle, b"more"))
                    complete, after = read_events(conn, decoder, 2)
                    assert complete == (N.WORK_COMPLETE, (handle, b"more"))
                    return after[0]
                # ...so after the next jobs the worker sleeps at once: result and PRE_SLEEP
                for number in range(2, PROBE_EVERY + 1):
                    assert after_job(number) == N.PRE_SLEEP
                    conn.sendall(encode(N.NOOP))
                    assert read_events(conn, decoder, 1) == [(N.GRAB_JOB_UNIQ, ())]
                # until every PROBE_EVERY jobs it tries a grab again; that one gets a job, so it
                # keeps grabbing after jobs
                assert [after_job(PROBE_EVERY + 1), after_job(PROBE_EVERY + 2)] == [
                    N.GRAB_JOB_UNIQ, N.GRAB_JOB_UNIQ]
                conn.sendall(encode(N.NO_JOB))
                assert read_events(conn, decoder, 1) == [(N.PRE_SLEEP, ())]
                conn.settimeout(1.0)
                with pytest.raises(TimeoutError):
                    conn.recv(100)

