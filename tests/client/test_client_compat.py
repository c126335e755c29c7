"""python-gearman 2.0.2's API on gearmand_py.client, against gearmand 1.1.20 and gearmand-py:
the issue's echo worker and client scripts unchanged but for the import, and each documented
field of a job request, a worker's updates and the admin client."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import gearmand_py.client.compat as gearman
from tests.client.harness import SCRIPTS, hosts, run_script, worker_thread
from tests.support.prerequisites import require
from tests.support.servers import ServerProcess, gearmand_available, repo_env, start_server


def test_echo_worker_and_client_scripts(server: ServerProcess) -> None:
    worker = subprocess.Popen([sys.executable, str(SCRIPTS / "echo_worker.py"), *hosts(server)],
                              env=repo_env(), stderr=subprocess.PIPE)
    try:
        client = run_script("echo_client.py", *hosts(server))
        assert (client.returncode, client.stdout, client.stderr) == (0, "foo\n", "")
    finally:
        worker.kill()
        _, err = worker.communicate()
    assert b"Traceback" not in err, err.decode()


def test_result_state_and_updates(server: ServerProcess) -> None:
    def work(worker: gearman.GearmanWorker, job: gearman.GearmanJob) -> str:
        worker.send_job_status(job, 1, 2)
        worker.send_job_data(job, "part")
        worker.send_job_warning(job, "careful")
        return job.data.upper() + ":" + job.unique

    with worker_thread(hosts(server), {"compat-updates": work}):
        client = gearman.GearmanClient(hosts(server))
        request = client.submit_job("compat-updates", "abc", unique="u-1", poll_timeout=10)
    assert (request.result, request.state, request.complete, request.timed_out) == (
        "ABC:u-1", gearman.JOB_COMPLETE, True, False)
    assert list(request.data_updates) == ["part"]
    assert list(request.warning_updates) == ["careful"]
    assert (request.status["numerator"], request.status["denominator"]) == (1, 2)
    assert request.job.handle.startswith("H:")


def test_a_failing_task_fails_the_job(server: ServerProcess) -> None:
    def boom(worker: gearman.GearmanWorker, job: gearman.GearmanJob) -> str:
        raise RuntimeError("no")

    with worker_thread(hosts(server), {"compat-fail": boom}):
        request = gearman.GearmanClient(hosts(server)).submit_job("compat-fail", "x",
                                                                  poll_timeout=10)
    assert (request.state, request.complete, request.result) == (gearman.JOB_FAILED, True, None)


def test_bytes_survive_an_echo_unchanged(server: ServerProcess) -> None:
    payload = bytes(range(256)).decode("utf-8", "surrogateescape")
    with worker_thread(hosts(server), {"compat-bytes": lambda w, job: job.data}):
        request = gearman.GearmanClient(hosts(server)).submit_job("compat-bytes", payload,
                                                                  poll_timeout=10)
    assert request.result == payload


def test_priorities_background_and_multiple_jobs(server: ServerProcess) -> None:
    client = gearman.GearmanClient(hosts(server))
    jobs = [dict(task="compat-prio", data=str(i), priority=priority)
            for i, priority in enumerate([gearman.PRIORITY_LOW, gearman.PRIORITY_NONE,
                                          gearman.PRIORITY_HIGH])]
    queued = client.submit_multiple_jobs(jobs, background=True, poll_timeout=10)
    assert [(r.state, r.complete) for r in queued] == [(gearman.JOB_CREATED, True)] * 3
    seen: list[str] = []
    with worker_thread(hosts(server), {"compat-prio": lambda w, job: seen.append(job.data) or ""}):
        _wait(lambda: len(seen) == 3)
    assert seen == ["2", "1", "0"]


def test_unfinished_jobs_time_out_and_report_status(server: ServerProcess) -> None:
    client = gearman.GearmanClient(hosts(server))
    request = client.submit_job("compat-nobody", "x", poll_timeout=0.3)
    assert (request.state, request.timed_out, request.complete) == (
        gearman.JOB_CREATED, True, False)
    status = client.get_job_status(request, poll_timeout=5).status
    assert (status["known"], status["running"], status["numerator"], status["denominator"]) == (
        True, False, 0, 0)
    queued = client.submit_job("compat-nobody", "y", background=True, wait_until_complete=False)
    assert queued.complete and not queued.timed_out


def test_admin_client(server: ServerProcess) -> None:
    admin = gearman.GearmanAdminClient(hosts(server))
    with worker_thread(hosts(server), {"compat-admin": lambda w, job: job.data},
                       client_id="admin-worker"):
        _wait(lambda: any(w["client_id"] == "admin-worker" for w in admin.get_workers()))
        [mine] = [w for w in admin.get_workers() if w["client_id"] == "admin-worker"]
        assert mine["tasks"] == ("compat-admin",) and mine["ip"] == "127.0.0.1"
        gearman.GearmanClient(hosts(server)).submit_job("compat-admin", "q", background=True)
        _wait(lambda: _status(admin, "compat-admin")["queued"] == 0)
        assert _status(admin, "compat-admin") == {"task": "compat-admin", "queued": 0,
                                                  "running": 0, "workers": 1}
    assert admin.get_version()
    assert int(admin.get_pid()) == server.proc.pid
    assert 0 <= admin.ping_server() < 5
    assert admin.send_maxqueue("compat-admin", 7) == "OK"


@pytest.mark.parametrize("graceful", [False, True])
def test_admin_shutdown(server_kind: str, graceful: bool) -> None:
    """gearmand-py stops; gearmand 1.1.20 no longer has the command, and the error says so."""
    own = start_server(server_kind)
    try:
        admin = gearman.GearmanAdminClient(hosts(own))
        if server_kind == "gearmand":
            with pytest.raises(gearman.ProtocolError, match="UNKNOWN_COMMAND"):
                admin.send_shutdown(graceful=graceful)
            return
        assert admin.send_shutdown(graceful=graceful) is None
        assert own.proc.wait(10) == 0
    finally:
        own.stop()


def _status(admin: gearman.GearmanAdminClient, task: str) -> dict:
    return next(row for row in admin.get_status() if row["task"] == task)


def _wait(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture(params=["gearmand", "gearmand-py"])
def server_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "gearmand":
        require(gearmand_available(), "Debian gearmand not installed")
    return request.param
