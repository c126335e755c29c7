"""conf/supervisord-gearman-py-worker.conf run by Debian's supervisord for real: its workers
register, and when supervisord gets SIGTERM while a job's command runs, the job finishes and
its client gets the result before the workers exit 0.

The program section is the example's, with what a test cannot use replaced: the command runs
gearman-py from this checkout (with tests/clients/cli_job.py as the job's command), the logs go
to a scratch directory, there is no ``user=``, and GEARMAN_SERVER names the test's server."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gearmand_py.client import Client
from gearmand_py.client.compat import GearmanAdminClient
from tests.support.prerequisites import require
from tests.support.servers import REPO, start_server

EXAMPLE = REPO / "conf" / "supervisord-gearman-py-worker.conf"
SECTION = "program:gearman-py-worker-resize"
CLI_JOB = REPO / "tests" / "clients" / "cli_job.py"
TIMEOUT = 30


def _example() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read(EXAMPLE)
    return parser


def test_the_example_stops_workers_the_way_that_lets_jobs_finish() -> None:
    program = _example()[SECTION]
    assert program["command"].startswith("/usr/local/bin/gearman-py -w -f resize -- ")
    assert (program["stopsignal"], program["stopasgroup"], program["killasgroup"]) == (
        "TERM", "false", "true")
    assert int(program["stopwaitsecs"]) >= 60 and int(program["numprocs"]) >= 1


def test_supervisord_runs_the_workers_and_sigterm_lets_the_job_finish(tmp_path: Path) -> None:
    supervisord = shutil.which("supervisord")
    require(supervisord, "supervisord not installed (apt-get install supervisor)")
    server = start_server("gearmand-py", ["-t", "0"])
    parser = _example()
    program = parser[SECTION]
    numprocs = int(program["numprocs"])
    program["command"] = (f"{sys.executable} -m gearmand_py.tools.gearman -w -f resize -- "
                          f"{sys.executable} {CLI_JOB} {tmp_path}")
    program["environment"] = (f'GEARMAN_SERVER="127.0.0.1:{server.port}",'
                              f'PYTHONPATH="{REPO}"')
    program["directory"] = str(tmp_path)
    del program["user"]
    for stream in ("stdout", "stderr"):
        program[f"{stream}_logfile"] = str(tmp_path / f"%(program_name)s-%(process_num)d.{stream}")
    parser["supervisord"] = {"nodaemon": "true", "logfile": str(tmp_path / "supervisord.log"),
                             "pidfile": str(tmp_path / "supervisord.pid"),
                             "childlogdir": str(tmp_path)}
    if os.geteuid() == 0:
        parser["supervisord"]["user"] = "root"  # says running as root is meant, so no warning
    config = tmp_path / "supervisord.conf"
    with config.open("w") as out:
        parser.write(out)
    log = tmp_path / "supervisord.log"
    daemon = subprocess.Popen([supervisord, "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    admin = GearmanAdminClient([f"127.0.0.1:{server.port}"])
    try:
        _wait(lambda: _resize(admin)["workers"] == numprocs, f"{numprocs} workers", log)
        with Client([f"127.0.0.1:{server.port}"]) as client:
            future = client.submit("resize", "hold:supervised")
            _wait(lambda: _resize(admin)["running"] == 1, "the job to run", log)
            daemon.send_signal(signal.SIGTERM)
            _wait(lambda: "waiting for" in log.read_text(), "supervisord to stop", log)
            assert not future.done()
            (tmp_path / "release").touch()
            assert future.result(TIMEOUT) == b"desivrepus:dloh"
        assert daemon.wait(TIMEOUT) == 0
        stopped = [line for line in log.read_text().splitlines() if "stopped:" in line]
        assert len(stopped) == numprocs and all("(exit status 0)" in line for line in stopped), \
            log.read_text()
        assert (tmp_path / "done.log").read_text() == "hold:supervised\n"
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        server.stop()


def _resize(admin: GearmanAdminClient) -> dict:
    return next((row for row in admin.get_status() if row["task"] == "resize"),
                {"workers": 0, "running": 0})


def _wait(condition, what: str, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        text = log.read_text() if log.exists() else ""
        assert time.monotonic() < deadline, f"timed out waiting for {what}; log:\n{text}"
        time.sleep(0.05)
