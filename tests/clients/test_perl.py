"""Perl CPAN Gearman 2.004 (Debian libgearman-client-perl): Gearman::Client and Gearman::Worker.

The worker sends CAN_DO, PRE_SLEEP on connect, then plain GRAB_JOB, and drops the connection
when a GRAB_JOB reply takes more than 0.5 s. The client (``exceptions => 1``) sends OPTION_REQ
"exceptions" before submitting. Perl has no ECHO call, so there is no ping test here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from ._util import (HERE, ExternalWorker, reverse, run, unique_name,
                    wait_until)

PERL_DIR = HERE / "perl"


class PerlClient:
    """Runs perl/client.pl commands against one server."""

    def __init__(self, perl: str, server: ServerProcess) -> None:
        self.perl = perl
        self.server = server

    def __call__(self, command: str, *args: str) -> dict[str, Any]:
        """Run one client command and return its JSON answer."""
        proc = run([self.perl, str(PERL_DIR / "client.pl"), str(self.server.port), command, *args],
                   timeout=20)
        return json.loads(proc.stdout)


@pytest.fixture
def perl_client(perl_bin: str, server: ServerProcess) -> PerlClient:
    """A Gearman::Client runner bound to ``server``."""
    return PerlClient(perl_bin, server)


def start_perl_worker(perl: str, server: ServerProcess, function: str, workdir: Path,
                      lifetime: int = 60) -> ExternalWorker:
    """Start perl/worker.pl for ``function``; it prints "ready" before its first GRAB_JOB."""
    return ExternalWorker([perl, str(PERL_DIR / "worker.pl"), str(server.port), function,
                           str(workdir), str(lifetime)], workdir)


@pytest.fixture
def perl_worker(perl_bin: str, server: ServerProcess, tmp_path: Path) -> Iterator[tuple[str, ExternalWorker]]:
    """A running Gearman::Worker for a fresh function name; stopped at teardown."""
    function = unique_name("perl")
    worker = start_perl_worker(perl_bin, server, function, tmp_path)
    yield function, worker
    worker.stop()


@pytest.mark.parametrize("priority", ["normal", "high", "low"])
def test_perl_foreground_job(perl_client: PerlClient, perl_worker: tuple[str, ExternalWorker],
                             priority: str) -> None:
    """do_task with priority normal/high/low returns the worker's result."""
    function, _ = perl_worker
    payload = f"perl {priority} payload"
    assert perl_client(priority, function, payload) == {"result": reverse(payload), "events": []}


def test_perl_background_jobs_run(perl_client: PerlClient,
                                  perl_worker: tuple[str, ExternalWorker]) -> None:
    """dispatch_background at each priority returns ``host:port//handle``; the worker runs it."""
    function, worker = perl_worker
    payloads = {command: f"perl-{command}" for command in ("bg", "highbg", "lowbg")}
    for command, payload in payloads.items():
        handle = perl_client(command, function, payload)["handle"]
        assert handle and "//H:" in handle, handle
    worker.wait_done(payloads.values())


def test_perl_background_priority_order(perl_bin: str, perl_client: PerlClient,
                                        server: ServerProcess, tmp_path: Path) -> None:
    """Queued high/normal/low background jobs reach a GRAB_JOB worker in priority order."""
    function = unique_name("perl_order")
    order = [("lowbg", "low-1"), ("bg", "normal-1"), ("highbg", "high-1"), ("lowbg", "low-2"),
             ("bg", "normal-2"), ("highbg", "high-2")]
    for command, payload in order:
        perl_client(command, function, payload)
    worker = start_perl_worker(perl_bin, server, function, tmp_path, lifetime=30)
    try:
        done = worker.wait_done(payload for _, payload in order)
    finally:
        worker.stop()
    assert done == ["high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"]


def test_perl_job_status(perl_client: PerlClient, perl_worker: tuple[str, ExternalWorker]) -> None:
    """get_status: a running job reports 1/4, then is unknown once it has finished."""
    function, worker = perl_worker
    handle = perl_client("bg", function, "hold:perl")["handle"]
    running = {"known": True, "running": True, "numerator": "1", "denominator": "4"}
    wait_until(lambda: perl_client("status", handle) == running, what="STATUS_RES running 1/4")
    worker.release()
    worker.wait_done(["hold:perl"])
    gone = {"known": False, "running": False, "numerator": "0", "denominator": "0"}
    wait_until(lambda: perl_client("status", handle) == gone, what="job to be forgotten")


def test_perl_status_of_queued_job(perl_client: PerlClient) -> None:
    """A queued job is known and not running, with numerator and denominator "0" (not empty)."""
    function = unique_name("perl_idle")
    handle = perl_client("bg", function, "nobody runs me")["handle"]
    assert perl_client("status", handle) == {
        "known": True, "running": False, "numerator": "0", "denominator": "0"}


def test_perl_foreground_callbacks(perl_client: PerlClient,
                                   perl_worker: tuple[str, ExternalWorker]) -> None:
    """WORK_DATA, WORK_WARNING and WORK_STATUS reach do_task's callbacks before the result."""
    function, _ = perl_worker
    assert perl_client("normal", function, "data:pl") == {
        "result": reverse("data:pl"),
        "events": [["data", "d1"], ["warning", "w1"], ["status", "2", "3"]]}


def test_perl_fail(perl_client: PerlClient, perl_worker: tuple[str, ExternalWorker]) -> None:
    """A handler returning undef sends WORK_FAIL; the client's on_fail fires."""
    function, _ = perl_worker
    assert perl_client("normal", function, "fail:pl") == {"result": None, "events": [["fail"]]}


def test_perl_exception(perl_client: PerlClient, perl_worker: tuple[str, ExternalWorker]) -> None:
    """A dying handler sends WORK_EXCEPTION (a Storable blob); with OPTION_REQ exceptions the
    client receives it.

    Gearman::Worker then also sends WORK_FAIL for the same handle; C gearmand answers that with
    ERROR JOB_NOT_FOUND, which makes the worker die on its next GRAB_JOB. Run this test last in
    the worker's life.
    """
    function, _ = perl_worker
    answer = perl_client("normal", function, "exc:pl")
    assert answer["result"] is None
    assert [event[0] for event in answer["events"]] == ["exception"], answer
    assert "boom:pl" in answer["events"][0][1], answer


def test_perl_server_status(perl_client: PerlClient, perl_worker: tuple[str, ExternalWorker]) -> None:
    """get_job_server_status parses the text ``status`` reply (total, running, workers)."""
    function, _ = perl_worker
    idle = unique_name("perl_status")
    perl_client("bg", idle, "queued")
    status = perl_client("server_status")["status"]
    (per_server,) = status.values()
    assert per_server[function] == {"queued": "0", "running": "0", "capable": "1"}
    assert per_server[idle] == {"queued": "1", "running": "0", "capable": "0"}
