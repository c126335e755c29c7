"""PHP pecl-gearman (libgearman 1.1.20) GearmanClient and GearmanWorker, via php/*.php.

Both sides start every connection with OPTION_REQ "exceptions"; the worker grabs with
GRAB_JOB_ALL (C gearmand answers JOB_ASSIGN_UNIQ) and sends PRE_SLEEP after NO_JOB.
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

PHP_DIR = HERE / "php"
GEARMAN_SUCCESS = 0
GEARMAN_WORK_EXCEPTION = 23
GEARMAN_WORK_FAIL = 24


class PhpClient:
    """Runs php/client.php commands against one server."""

    def __init__(self, php: str, server: ServerProcess) -> None:
        self.php = php
        self.server = server

    def __call__(self, command: str, *args: str) -> dict[str, Any]:
        """Run one client command and return its JSON answer."""
        proc = run([self.php, str(PHP_DIR / "client.php"), str(self.server.port), command, *args],
                   timeout=20)
        assert "Warning" not in proc.stderr, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture
def php_client(php_bin: str, server: ServerProcess) -> PhpClient:
    """A GearmanClient runner bound to ``server``."""
    return PhpClient(php_bin, server)


@pytest.fixture
def php_worker(php_bin: str, server: ServerProcess, tmp_path: Path) -> Iterator[tuple[str, ExternalWorker]]:
    """A running GearmanWorker for a fresh function name; stopped at teardown."""
    function = unique_name("php")
    worker = ExternalWorker([php_bin, str(PHP_DIR / "worker.php"), str(server.port), function,
                             str(tmp_path), "60"], tmp_path)
    yield function, worker
    worker.stop()


@pytest.mark.parametrize("priority", ["normal", "high", "low"])
def test_php_foreground_job(php_client: PhpClient, php_worker: tuple[str, ExternalWorker],
                            priority: str) -> None:
    """doNormal / doHigh / doLow return the worker's result with GEARMAN_SUCCESS."""
    function, _ = php_worker
    payload = f"php {priority} payload"
    answer = php_client(priority, function, payload)
    assert answer == {"result": reverse(payload), "rc": GEARMAN_SUCCESS}


def test_php_background_jobs_run(php_client: PhpClient, php_worker: tuple[str, ExternalWorker]) -> None:
    """doBackground / doHighBackground / doLowBackground return a handle; the worker runs each."""
    function, worker = php_worker
    payloads = {command: f"php-{command}" for command in ("bg", "highbg", "lowbg")}
    for command, payload in payloads.items():
        answer = php_client(command, function, payload)
        assert answer["rc"] == GEARMAN_SUCCESS and answer["handle"].startswith("H:"), answer
    worker.wait_done(payloads.values())


def test_php_background_priority_order(php_bin: str, php_client: PhpClient, server: ServerProcess,
                                       tmp_path: Path) -> None:
    """Queued high/normal/low background jobs reach a GRAB_JOB_ALL worker in priority order."""
    function = unique_name("php_order")
    order = [("lowbg", "low-1"), ("bg", "normal-1"), ("highbg", "high-1"), ("lowbg", "low-2"),
             ("bg", "normal-2"), ("highbg", "high-2")]
    for command, payload in order:
        php_client(command, function, payload)
    worker = ExternalWorker([php_bin, str(PHP_DIR / "worker.php"), str(server.port), function,
                             str(tmp_path), "30"], tmp_path)
    try:
        done = worker.wait_done(payload for _, payload in order)
    finally:
        worker.stop()
    assert done == ["high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"]


def test_php_job_status(php_client: PhpClient, php_worker: tuple[str, ExternalWorker]) -> None:
    """jobStatus: running job reports 1/4; finished job is unknown; numbers are integers."""
    function, worker = php_worker
    handle = php_client("bg", function, "hold:php")["handle"]
    running = {"known": True, "running": True, "numerator": 1, "denominator": 4,
               "rc": GEARMAN_SUCCESS}
    wait_until(lambda: php_client("status", handle) == running, what="STATUS_RES running 1/4")
    worker.release()
    worker.wait_done(["hold:php"])
    gone = {"known": False, "running": False, "numerator": 0, "denominator": 0,
            "rc": GEARMAN_SUCCESS}
    wait_until(lambda: php_client("status", handle) == gone, what="job to be forgotten")


def test_php_status_of_queued_and_unknown_jobs(php_client: PhpClient) -> None:
    """A queued job is known, not running, 0/0; an unknown handle is not known, 0/0."""
    function = unique_name("php_idle")
    unique = unique_name("php_uniq")
    handle = php_client("bg", function, "nobody runs me", unique)["handle"]
    queued = {"known": True, "running": False, "numerator": 0, "denominator": 0,
              "rc": GEARMAN_SUCCESS}
    assert php_client("status", handle) == queued
    assert php_client("status_unique", unique) == queued
    assert php_client("status", "H:nohost:987654321") == {
        "known": False, "running": False, "numerator": 0, "denominator": 0, "rc": GEARMAN_SUCCESS}


def test_php_ping(php_client: PhpClient) -> None:
    """GearmanClient::ping sends ECHO_REQ and needs the matching ECHO_RES."""
    assert php_client("ping", "php echo payload") == {"ok": True, "rc": GEARMAN_SUCCESS}


def test_php_fail_and_exception(php_client: PhpClient, php_worker: tuple[str, ExternalWorker]) -> None:
    """WORK_FAIL and WORK_EXCEPTION reach doNormal as their return codes."""
    function, _ = php_worker
    assert php_client("normal", function, "fail:x") == {"result": "", "rc": GEARMAN_WORK_FAIL}
    assert php_client("normal", function, "exc:x") == {"result": "", "rc": GEARMAN_WORK_EXCEPTION}


def test_php_task_callbacks(php_client: PhpClient, php_worker: tuple[str, ExternalWorker]) -> None:
    """WORK_DATA, WORK_WARNING, WORK_STATUS, WORK_COMPLETE and (with OPTION_REQ exceptions)
    WORK_EXCEPTION are relayed to a runTasks client in order."""
    function, _ = php_worker
    answer = php_client("tasks", function, "data:cb")
    assert answer["ok"] is True, answer
    assert answer["events"] == [["created"], ["data", "d1"], ["warning", "w1"], ["status", 2, 3],
                                ["complete", reverse("data:cb")]]
    answer = php_client("tasks", function, "exc:cb")
    assert answer["events"] == [["created"], ["exception", "boom:cb"]], answer
    answer = php_client("tasks", function, "fail:cb")
    assert answer["events"] == [["created"], ["fail"]], answer
