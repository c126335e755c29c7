"""libgearman command-line tools (Debian gearman-tools 1.1.20): ``gearman`` and ``gearadmin``.

``gearman -w -f FN -- CMD`` is a libgearman worker (OPTION_REQ exceptions, CAN_DO, GRAB_JOB_ALL,
PRE_SLEEP) that pipes each payload through CMD; ``gearman -f FN [-I|-L] [-b] DATA`` is a
libgearman client. ``gearadmin`` speaks the text admin protocol.
"""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.servers import ServerProcess

from ._util import (HERE, ExternalWorker, require_executable, reverse, run, text_command,
                    unique_name, wait_for_worker, wait_until)

PRIORITY_FLAGS = {"normal": [], "high": ["-I"], "low": ["-L"]}

WorkerFactory = Callable[..., ExternalWorker]


@pytest.fixture(scope="module")
def gearman_bin() -> str:
    """Path of the libgearman ``gearman`` CLI."""
    return require_executable("gearman", "apt-get install gearman-tools")


@pytest.fixture(scope="module")
def gearadmin_bin() -> str:
    """Path of ``gearadmin``."""
    return require_executable("gearadmin", "apt-get install gearman-tools")


@pytest.fixture
def cli_worker(server: ServerProcess, gearman_bin: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Factory for ``gearman -w`` workers on ``server``; all are stopped at teardown."""
    workers: list[ExternalWorker] = []

    def start(function: str, count: int | None = None, wait_registered: bool = True) -> ExternalWorker:
        cmd = [gearman_bin, "-w", "-h", "127.0.0.1", "-p", str(server.port), "-f", function]
        if count is not None:
            cmd += ["-c", str(count)]
        cmd += ["--", sys.executable, str(HERE / "cli_job.py"), str(tmp_path)]
        worker = ExternalWorker(cmd, tmp_path, ready_line=None)
        workers.append(worker)
        if wait_registered:
            wait_for_worker(server.address, function)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def gearman_client(gearman_bin: str, server: ServerProcess, function: str, payload: str,
                   *flags: str) -> str:
    """Run ``gearman -f FUNCTION [flags] PAYLOAD`` and return its stdout.

    The CLI exits 0 even on GEARMAN_TIMEOUT, so its stderr must be empty to count as success.
    """
    proc = run([gearman_bin, "-h", "127.0.0.1", "-p", str(server.port), "-t", "10000",
                "-f", function, *flags, payload], timeout=15)
    assert proc.stderr == "", f"gearman client reported: {proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("priority", ["normal", "high", "low"])
def test_cli_foreground_job(server: ServerProcess, gearman_bin: str, cli_worker: WorkerFactory,
                            priority: str) -> None:
    """SUBMIT_JOB / _HIGH / _LOW from the CLI client returns the worker's result."""
    function = unique_name("cli_fg")
    cli_worker(function)
    payload = f"hello {priority} world"
    out = gearman_client(gearman_bin, server, function, payload, *PRIORITY_FLAGS[priority])
    assert out == reverse(payload)


def test_cli_background_jobs_run(server: ServerProcess, gearman_bin: str,
                                 cli_worker: WorkerFactory) -> None:
    """SUBMIT_JOB_BG / _HIGH_BG / _LOW_BG return at once and the worker really runs each job."""
    function = unique_name("cli_bg")
    worker = cli_worker(function)
    payloads = [f"bg-{priority}" for priority in PRIORITY_FLAGS]
    for priority, payload in zip(PRIORITY_FLAGS, payloads):
        assert gearman_client(gearman_bin, server, function, payload, "-b",
                              *PRIORITY_FLAGS[priority]) == ""
    worker.wait_done(payloads)


def test_cli_background_priority_order(server: ServerProcess, gearman_bin: str,
                                       gearadmin_bin: str, cli_worker: WorkerFactory) -> None:
    """Jobs queued with no worker are handed out high first, then normal, then low (FIFO within
    a priority); ``gearadmin --priority-status`` counts them per priority meanwhile."""
    function = unique_name("cli_order")
    submitted = ["low-1", "normal-1", "high-1", "low-2", "normal-2", "high-2"]
    for payload in submitted:
        priority = payload.split("-")[0]
        gearman_client(gearman_bin, server, function, payload, "-b", *PRIORITY_FLAGS[priority])
    lines = run([gearadmin_bin, "-h", "127.0.0.1", "-p", str(server.port),
                 "--priority-status"]).stdout.splitlines()
    assert f"{function}\t2\t2\t2\t0" in lines, lines
    worker = cli_worker(function, wait_registered=False)
    done = worker.wait_done(submitted)
    assert done == ["high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"]


def gearadmin(gearadmin_bin: str, server: ServerProcess, *options: str) -> list[str]:
    """Run gearadmin with ``options`` against ``server``; return its output lines."""
    proc = run([gearadmin_bin, "-h", "127.0.0.1", "-p", str(server.port), *options])
    assert proc.stderr == "", proc.stderr
    return proc.stdout.splitlines()


def test_gearadmin_status(server: ServerProcess, gearman_bin: str, gearadmin_bin: str,
                          cli_worker: WorkerFactory) -> None:
    """``--status`` prints ``function<TAB>total<TAB>running<TAB>workers`` lines then ``.``;
    a running job counts in both total and running."""
    busy, idle = unique_name("cli_busy"), unique_name("cli_idle")
    worker = cli_worker(busy)
    gearman_client(gearman_bin, server, busy, "hold:status", "-b")
    gearman_client(gearman_bin, server, idle, "queued", "-b")

    def status_lines() -> list[str]:
        lines = gearadmin(gearadmin_bin, server, "--status")
        assert lines and lines[-1] == ".", lines
        for line in lines[:-1]:
            assert re.fullmatch(r"[^\t]+\t\d+\t\d+\t\d+", line), line
        return lines

    wait_until(lambda: f"{busy}\t1\t1\t1" in status_lines(), what=f"{busy} to be running")
    assert f"{idle}\t1\t0\t0" in status_lines()
    worker.release()
    worker.wait_done(["hold:status"])
    wait_until(lambda: f"{busy}\t0\t0\t1" in status_lines(), what=f"{busy} to finish")


def test_gearadmin_workers(server: ServerProcess, gearadmin_bin: str,
                           cli_worker: WorkerFactory) -> None:
    """``--workers`` prints ``fd ip client_id : functions...`` lines then ``.``."""
    function = unique_name("cli_workers")
    cli_worker(function)
    lines = gearadmin(gearadmin_bin, server, "--workers")
    assert lines and lines[-1] == ".", lines
    for line in lines[:-1]:
        assert re.fullmatch(r"\d+ \S+ \S+ :( \S+)*", line), line
    mine = [line for line in lines if line.endswith(f" {function}")]
    assert len(mine) == 1, lines
    assert re.fullmatch(rf"\d+ 127\.0\.0\.1 \S+ : {function}", mine[0]), mine


def test_gearadmin_server_version(server: ServerProcess, gearadmin_bin: str) -> None:
    """``--server-version`` prints the bare version (gearadmin strips the ``OK `` prefix)."""
    lines = gearadmin(gearadmin_bin, server, "--server-version")
    assert len(lines) == 1 and re.fullmatch(r"\d+\.\d+(\.\d+)*\S*", lines[0]), lines
    raw = text_command_line(server, "version")
    assert raw == f"OK {lines[0]}"


def test_gearadmin_getpid(server: ServerProcess, gearadmin_bin: str) -> None:
    """``--getpid`` prints the server's process id."""
    lines = gearadmin(gearadmin_bin, server, "--getpid")
    assert lines == [str(server.proc.pid)]


def text_command_line(server: ServerProcess, command: str) -> str:
    """Send a one-line text admin command (``version``, ``getpid``) and return the reply line."""
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(command.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf.decode().rstrip("\r\n")


def test_text_status_matches_gearadmin(server: ServerProcess, gearadmin_bin: str,
                                       gearman_bin: str) -> None:
    """The raw ``status`` text command and ``gearadmin --status`` agree."""
    function = unique_name("cli_raw")
    gearman_client(gearman_bin, server, function, "queued", "-b")
    raw = text_command(server.address, "status")
    assert f"{function}\t1\t0\t0" in raw
    assert f"{function}\t1\t0\t0" in gearadmin(gearadmin_bin, server, "--status")
