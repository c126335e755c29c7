"""Cross tests for gearmand_py.client: PHP (pecl gearman on libgearman) and Perl
(Gearman::Client) clients submitting to a worker built on ``gearmand_py.client.Worker``, and
libgearman's ``gearman -w -f F -- cmd`` worker serving our ``Client`` and ``GearmanClient``.

Our worker follows the job contract of _util.py, except that ``exc:<x>`` raises
``RuntimeError("boom:<x>")``, so clients that asked for exceptions get
``RuntimeError: boom:<x>``, and ``fail:<x>`` raises ``JobFailed`` (WORK_FAIL).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import gearmand_py.client.compat as gearman
from gearmand_py.client import Client, Job, JobFailed, Worker
from tests.support.servers import ServerProcess

from ._util import (HERE, ROUND_TRIP_TIMEOUT, ExternalWorker, JobLog, join_thread,
                    require_executable, reverse, unique_name, wait_for_worker, wait_until)
from .test_perl import PerlClient
from .test_php import GEARMAN_SUCCESS, GEARMAN_WORK_EXCEPTION, GEARMAN_WORK_FAIL, PhpClient


class OurWorker:
    """A ``gearmand_py.client.Worker`` running the job contract in a thread of the test."""

    def __init__(self, server: ServerProcess, function: str) -> None:
        self.function = function
        self.log = JobLog()
        self.worker = Worker([f"127.0.0.1:{server.port}"])
        self.worker.task(function)(self._run)
        self.failure: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()
        wait_for_worker(server.address, function)

    def _work(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:  # surfaced by stop()
            self.failure.append(exc)

    def _run(self, job: Job) -> bytes:
        payload = job.data.decode()
        if payload.startswith("hold:"):
            job.status(1, 4)
            self.log.hold()
        elif payload.startswith("fail:"):
            raise JobFailed()
        elif payload.startswith("exc:"):
            raise RuntimeError("boom:" + payload[4:])
        elif payload.startswith("data:"):
            job.send_data("d1")
            job.warn("w1")
            job.status(2, 3)
        self.log.record(payload)
        return reverse(payload).encode()

    def stop(self) -> None:
        self.log.release()
        self.worker.stop()
        join_thread(self.thread, 10)
        if self.failure:
            raise self.failure[0]


@pytest.fixture
def our_worker(server: ServerProcess) -> Iterator[OurWorker]:
    worker = OurWorker(server, unique_name("ours"))
    yield worker
    worker.stop()


# ---- PHP's GearmanClient -> our worker ---------------------------------------------------------

@pytest.mark.parametrize("priority", ["normal", "high", "low"])
def test_php_client_foreground(php_bin: str, server: ServerProcess, our_worker: OurWorker,
                               priority: str) -> None:
    payload = f"php {priority} to ours"
    assert PhpClient(php_bin, server)(priority, our_worker.function, payload) == {
        "result": reverse(payload), "rc": GEARMAN_SUCCESS}


def test_php_client_background_and_status(php_bin: str, server: ServerProcess,
                                          our_worker: OurWorker) -> None:
    php = PhpClient(php_bin, server)
    for command in ("bg", "highbg", "lowbg"):
        assert php(command, our_worker.function, f"php-{command}")["rc"] == GEARMAN_SUCCESS
    our_worker.log.wait_done(["php-bg", "php-highbg", "php-lowbg"])
    handle = php("bg", our_worker.function, "hold:php")["handle"]
    running = {"known": True, "running": True, "numerator": 1, "denominator": 4,
               "rc": GEARMAN_SUCCESS}
    wait_until(lambda: php("status", handle) == running, what="STATUS_RES running 1/4")
    our_worker.log.release()
    our_worker.log.wait_done(["hold:php"])


def test_php_client_fail_exception_and_callbacks(php_bin: str, server: ServerProcess,
                                                 our_worker: OurWorker) -> None:
    php = PhpClient(php_bin, server)
    function = our_worker.function
    assert php("normal", function, "fail:x") == {"result": "", "rc": GEARMAN_WORK_FAIL}
    assert php("normal", function, "exc:x") == {"result": "", "rc": GEARMAN_WORK_EXCEPTION}
    assert php("tasks", function, "data:cb")["events"] == [
        ["created"], ["data", "d1"], ["warning", "w1"], ["status", 2, 3],
        ["complete", reverse("data:cb")]]
    assert php("tasks", function, "exc:cb")["events"] == [
        ["created"], ["exception", "RuntimeError: boom:cb"]]


# ---- Perl's Gearman::Client -> our worker -------------------------------------------------------

@pytest.mark.parametrize("priority", ["normal", "high", "low"])
def test_perl_client_foreground(perl_bin: str, server: ServerProcess, our_worker: OurWorker,
                                priority: str) -> None:
    payload = f"perl {priority} to ours"
    assert PerlClient(perl_bin, server)(priority, our_worker.function, payload) == {
        "result": reverse(payload), "events": []}


def test_perl_client_background_status_and_updates(perl_bin: str, server: ServerProcess,
                                                   our_worker: OurWorker) -> None:
    perl = PerlClient(perl_bin, server)
    function = our_worker.function
    for command in ("bg", "highbg", "lowbg"):
        assert "//H:" in perl(command, function, f"perl-{command}")["handle"]
    our_worker.log.wait_done(["perl-bg", "perl-highbg", "perl-lowbg"])
    handle = perl("bg", function, "hold:perl")["handle"]
    running = {"known": True, "running": True, "numerator": "1", "denominator": "4"}
    wait_until(lambda: perl("status", handle) == running, what="STATUS_RES running 1/4")
    our_worker.log.release()
    assert perl("normal", function, "data:pl") == {
        "result": reverse("data:pl"),
        "events": [["data", "d1"], ["warning", "w1"], ["status", "2", "3"]]}
    assert perl("normal", function, "fail:pl") == {"result": None, "events": [["fail"]]}
    answer = perl("normal", function, "exc:pl")
    assert answer["result"] is None and [e[0] for e in answer["events"]] == ["exception"]
    assert "boom:pl" in answer["events"][0][1], answer


# ---- libgearman's gearman -w worker -> our clients ---------------------------------------------

@pytest.fixture
def cli_worker(server: ServerProcess, tmp_path: Path) -> Iterator[tuple[str, ExternalWorker]]:
    gearman_bin = require_executable("gearman", "apt-get install gearman-tools")
    function = unique_name("cli_for_ours")
    worker = ExternalWorker([gearman_bin, "-w", "-h", "127.0.0.1", "-p", str(server.port),
                             "-f", function, "--", sys.executable, str(HERE / "cli_job.py"),
                             str(tmp_path)], tmp_path, ready_line=None)
    wait_for_worker(server.address, function)
    yield function, worker
    worker.stop()


def test_our_client_with_the_gearman_cli_worker(server: ServerProcess,
                                                cli_worker: tuple[str, ExternalWorker]) -> None:
    function, worker = cli_worker
    with Client([f"127.0.0.1:{server.port}"]) as client:
        futures = {priority: client.submit(function, f"ours {priority}", priority=priority)
                   for priority in ("high", "normal", "low")}
        assert {p: f.result(ROUND_TRIP_TIMEOUT) for p, f in futures.items()} == {
            p: reverse(f"ours {p}").encode() for p in futures}
        handle = client.submit(function, "ours-bg", background=True)
        assert handle.handle.startswith("H:")
        worker.wait_done(["ours-bg"])


def test_our_reduce_job_on_the_gearman_cli_worker(server: ServerProcess,
                                                  cli_worker: tuple[str, ExternalWorker]) -> None:
    """libgearman's worker runs the command for a job with a reducer, then submits its output
    as a job of the reducer function (here our worker) and, having no aggregator, completes
    the job with an empty result."""
    function, _ = cli_worker
    reducer = OurWorker(server, unique_name("ours_reducer"))
    try:
        with Client([f"127.0.0.1:{server.port}"]) as client:
            future = client.submit(function, "ours-reduce", reducer=reducer.function)
            assert future.result(ROUND_TRIP_TIMEOUT) == b""
        assert reducer.log.done == [reverse("ours-reduce")]
    finally:
        reducer.stop()


def test_compat_client_with_the_gearman_cli_worker(server: ServerProcess,
                                                   cli_worker: tuple[str, ExternalWorker]) -> None:
    function, _ = cli_worker
    client = gearman.GearmanClient([f"127.0.0.1:{server.port}"])
    requests = client.submit_multiple_jobs(
        [dict(task=function, data=f"compat {i}", priority=priority)
         for i, priority in enumerate([gearman.PRIORITY_HIGH, None, gearman.PRIORITY_LOW])],
        poll_timeout=ROUND_TRIP_TIMEOUT)
    assert [(r.state, r.result) for r in requests] == [
        (gearman.JOB_COMPLETE, reverse(f"compat {i}")) for i in range(3)]
