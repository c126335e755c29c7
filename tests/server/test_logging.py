"""What a running server logs about connections, workers and jobs at each --verbose level: as
gearmand, connections at INFO (with the peer's address), and a job's life at DEBUG; workers'
abilities at INFO too. At the default level (ERROR) none of it."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.servers import ServerProcess, _wait_until_alone, start_server
from tests.support.wire import Conn

THREADS = [pytest.param(["-t", "0"], id="t0"), pytest.param(["-t", "2"], id="t2")]


def run_jobs(server: ServerProcess) -> tuple[int, int]:
    """A worker and a client go through abilities and a completed and a failed job, then leave;
    returns the worker's and the client's local ports."""
    worker, client = Conn(server.address), Conn(server.address)
    ports = worker.sock.getsockname()[1], client.sock.getsockname()[1]
    worker.send("CAN_DO", "reverse")
    worker.send("CAN_DO_TIMEOUT", "slow", "2500")
    for result in ("WORK_COMPLETE", "WORK_FAIL"):
        client.send("SUBMIT_JOB", "reverse", "", "abc")
        handle = client.recv_packet().args[0]
        worker.send("GRAB_JOB")
        assert worker.recv_packet().name == "JOB_ASSIGN"
        worker.send(result, handle, *(["cba"] if result == "WORK_COMPLETE" else []))
        assert client.recv_packet().name == result
    worker.send("CANT_DO", "slow")
    worker.send("RESET_ABILITIES")
    worker.send("ECHO_REQ", "done")
    assert worker.recv_packet().name == "ECHO_RES"
    worker.close()
    client.close()
    _wait_until_alone(server, time.monotonic() + 10)  # the server has seen both leave
    return ports


def log_after_exit(server: ServerProcess) -> str:
    """The whole log, read once the server has handled everything and exited."""
    server.proc.terminate()
    assert server.proc.wait(10) == 0
    text = server.log()
    server.stop()
    return text


def connection_number(log: str, port: int) -> str:
    """The server's number for the connection from local ``port``, from its accept line."""
    match = re.search(rf"  INFO .* Accepted connection (\d+) from 127\.0\.0\.1:{port}\n", log)
    assert match, log
    return match.group(1)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_connections_and_abilities_at_info(level, threads):
    server = start_server("gearmand-py", ["--verbose", level, *threads])
    worker_port, client_port = run_jobs(server)
    log = log_after_exit(server)
    worker = connection_number(log, worker_port)
    client = connection_number(log, client_port)
    for line in (f"Connection {worker} (127.0.0.1) can do reverse",
                 f"Connection {worker} (127.0.0.1) can do slow (timeout 2.5 s)",
                 f"Connection {worker} (127.0.0.1) can no longer do slow",
                 f"Connection {worker} (127.0.0.1) reset its abilities",
                 f"Connection {worker} (127.0.0.1) closed",
                 f"Connection {client} (127.0.0.1) closed"):
        assert re.search(rf"^   INFO .* {re.escape(line)}$", log, re.M), (line, log)
    assert ("  DEBUG " in log) == (level == "DEBUG")


@pytest.mark.parametrize("threads", THREADS)
def test_job_life_at_debug(threads):
    server = start_server("gearmand-py", ["--verbose", "DEBUG", "--job-handle-prefix", "H:t",
                                          *threads])
    worker_port, client_port = run_jobs(server)
    log = log_after_exit(server)
    worker = connection_number(log, worker_port)
    client = connection_number(log, client_port)
    life = [line.split("] ", 1)[1] for line in log.splitlines()
            if line.startswith("  DEBUG") and "] Job " in line]
    created = ("created: function reverse, unique '', normal priority, foreground, from "
               f"connection {client} (127.0.0.1)")
    assert life == [f"Job H:t:1 {created}",
                    f"Job H:t:1 assigned to connection {worker} (127.0.0.1)",
                    "Job H:t:1 completed",
                    f"Job H:t:2 {created}",
                    f"Job H:t:2 assigned to connection {worker} (127.0.0.1)",
                    "Job H:t:2 failed"]


@pytest.mark.parametrize("threads", THREADS)
def test_nothing_of_it_at_the_default_level(threads):
    server = start_server("gearmand-py", threads)
    run_jobs(server)
    log = log_after_exit(server)
    for text in ("Accepted connection", "can do", "reset its abilities", ") closed", "Job "):
        assert text not in log
