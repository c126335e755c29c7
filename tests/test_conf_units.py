"""The files in conf/ that run gearmand-py as a service: the systemd units (and the drop-in that
makes Debian's gearman-job-server unit run gearmand-py) pass ``systemd-analyze verify``, the
environment file sets what the unit passes and the server accepts it, and the logrotate snippet
parses and, run for real, makes a running server write to a fresh log file."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.prerequisites import require
from tests.support.servers import REPO, free_port, start_server

CONF = REPO / "conf"
SERVICE = CONF / "gearmand-py.service"
SOCKET = CONF / "gearmand-py.socket"
ENV_FILE = CONF / "gearmand-py.default"
LOGROTATE = CONF / "gearmand-py.logrotate"
DEBIAN_DROP_IN = CONF / "gearman-job-server.service.d" / "gearmand-py.conf"
DEBIAN_UNIT = Path("/lib/systemd/system/gearman-job-server.service")
#: Where the shipped units expect the command (pip's place for it when run as root).
INSTALLED = "/usr/local/bin/gearmand-py"
#: What runs it from this checkout instead: ``systemd-analyze verify`` wants an executable.
FROM_CHECKOUT = f"{sys.executable} -m gearmand_py"


def directive(unit: Path, key: str) -> list[str]:
    """Every value of ``key=`` in ``unit``, in order."""
    prefix = key + "="
    return [line[len(prefix):] for line in unit.read_text().splitlines()
            if line.startswith(prefix)]


def runnable_here(source: Path, target: Path) -> None:
    """Copy a unit (or drop-in), its ExecStart running gearmand-py from this checkout."""
    text = source.read_text()
    assert f"ExecStart={INSTALLED} " in text
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(f"ExecStart={INSTALLED} ", f"ExecStart={FROM_CHECKOUT} "))


def verify(directory: Path, *units: str) -> str:
    require(shutil.which("systemd-analyze"), "systemd-analyze is not installed (Debian: systemd)")
    done = subprocess.run(["systemd-analyze", "verify", *units], cwd=directory,
                          capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr + ("" if done.returncode == 0 else f"(exit {done.returncode})")


def test_service_and_socket_verify(tmp_path):
    runnable_here(SERVICE, tmp_path / SERVICE.name)
    shutil.copy(SOCKET, tmp_path / SOCKET.name)
    assert verify(tmp_path, SERVICE.name, SOCKET.name) == ""


def test_service_is_what_the_readme_promises():
    assert directive(SERVICE, "Type") == ["notify"]
    assert directive(SERVICE, "User") == ["gearman"]
    assert directive(SERVICE, "Restart") == ["on-failure"]
    assert directive(SERVICE, "ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert directive(SERVICE, "StateDirectory") == ["gearmand-py"]
    assert directive(SERVICE, "RuntimeDirectory") == ["gearmand-py"]
    assert directive(SERVICE, "ProtectSystem") == ["strict"]
    assert directive(SOCKET, "ListenStream") == ["4730"]


def test_debian_unit_with_the_drop_in_verifies(tmp_path):
    require(DEBIAN_UNIT.exists(), f"{DEBIAN_UNIT} is missing (Debian: gearman-job-server)")
    shutil.copy(DEBIAN_UNIT, tmp_path / DEBIAN_UNIT.name)
    runnable_here(DEBIAN_DROP_IN, tmp_path / DEBIAN_DROP_IN.parent.name / DEBIAN_DROP_IN.name)
    assert verify(tmp_path, DEBIAN_UNIT.name) == ""
    # It keeps Debian's pid file, which the unit's PIDFile= waits for.
    assert f"--pid-file={directive(DEBIAN_UNIT, 'PIDFile')[0]} $PARAMS" in \
        directive(DEBIAN_DROP_IN, "ExecStart")[-1]


DEBIAN_DEFAULTS = Path("/etc/default/gearman-job-server")


def test_debian_unit_command_forks_and_serves_with_debians_params(tmp_path):
    """What Debian's Type=forking unit runs through the drop-in, with the PARAMS from its
    /etc/default file (which pass --daemon): the command returns once the server serves and
    the pid file names the server (systemd's PIDFile= reads it). Paths and port are moved
    into the test's directory."""
    require(DEBIAN_DEFAULTS.exists(), f"{DEBIAN_DEFAULTS} is missing (Debian: gearman-job-server)")
    params = shlex.split(subprocess.run(
        ["sh", "-c", f". {DEBIAN_DEFAULTS} && printf %s \"$PARAMS\""],
        capture_output=True, text=True, check=True).stdout)
    assert "--daemon" in params
    params = [f"--log-file={tmp_path / 'gearmand.log'}" if p.startswith("--log-file=") else p
              for p in params]
    pid_file = tmp_path / "gearmand.pid"
    port = free_port()
    command = shlex.split(directive(DEBIAN_DROP_IN, "ExecStart")[-1].replace(
        "$PARAMS", "").replace(f"--pid-file={directive(DEBIAN_UNIT, 'PIDFile')[0]}",
                               f"--pid-file={pid_file}"))
    assert command[0] == INSTALLED
    done = subprocess.run([sys.executable, "-m", "gearmand_py", *command[1:], *params,
                           "-p", str(port)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    pid = int(pid_file.read_text())
    try:
        assert Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:3] == [b"-m",
                                                                                 b"gearmand_py"]
        with socket.create_connection(("localhost", port), timeout=5) as conn:
            conn.sendall(b"version\n")
            assert conn.recv(100).startswith(b"OK 1.1.20")
    finally:
        os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    assert not pid_file.exists()


def env_options(line: str) -> tuple[str, list[str]]:
    """``NAME="options"`` -> (NAME, the options as systemd splits them)."""
    name, _, value = line.partition("=")
    return name, shlex.split(shlex.split(value)[0]) if value else []


def check_args(options: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    empty = tmp_path / "empty.conf"
    empty.write_text("")
    return subprocess.run([sys.executable, "-m", "gearmand_py", "--config-file", str(empty),
                           "--check-args", *options], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def test_env_file_sets_the_variable_the_unit_passes(tmp_path):
    assert directive(SERVICE, "EnvironmentFile") == ["-/etc/default/gearmand-py"]
    settings = [line for line in ENV_FILE.read_text().splitlines()
                if line and not line.startswith("#")]
    assert len(settings) == 1
    name, options = env_options(settings[0])
    exec_start = shlex.split(directive(SERVICE, "ExecStart")[0])
    assert exec_start[0] == INSTALLED and exec_start[-1] == f"${name}"
    done = check_args(exec_start[1:-1] + options, tmp_path)
    assert (done.returncode, done.stderr) == (0, "")


def test_env_file_examples_are_accepted(tmp_path):
    examples = [line.lstrip("# ") for line in ENV_FILE.read_text().splitlines()
                if line.startswith("#") and "_OPTIONS=" in line]
    assert len(examples) >= 5
    for example in examples:
        done = check_args(env_options(example)[1], tmp_path)
        assert (done.returncode, done.stderr) == (0, ""), example


def logrotate() -> str:
    path = shutil.which("logrotate") or "/usr/sbin/logrotate"
    require(Path(path).exists(), "logrotate is not installed (Debian: logrotate)")
    return path


def test_logrotate_snippet_parses(tmp_path):
    done = subprocess.run([logrotate(), "-d", "-s", str(tmp_path / "state"), str(LOGROTATE)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "error" not in done.stdout + done.stderr, done.stderr


def test_logrotate_makes_the_server_reopen_its_log(tmp_path):
    """The snippet, its paths moved to a temporary directory, rotates a running server's log;
    its postrotate SIGHUP (through the pid file: no systemd here) makes the server start the
    new file."""
    command = logrotate()
    server = start_server("gearmand-py", ["--verbose", "INFO"])
    try:
        pid_file = server.workdir / "server.pid"
        assert pid_file.read_text().strip() == str(server.proc.pid)
        config = tmp_path / "gearmand-py.logrotate"
        config.write_text(LOGROTATE.read_text()
                          .replace("/var/log/gearmand-py/*.log", str(server.log_path))
                          .replace("/run/gearmand-py/gearmand-py.pid", str(pid_file))
                          .replace("[ -d /run/systemd/system ]", "false"))
        before = server.log()
        assert "Accepted connection" in before  # start_server's probe
        done = subprocess.run([command, "-f", "-s", str(tmp_path / "state"), str(config)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        rotated = server.log_path.with_name(server.log_path.name + ".1")
        assert rotated.read_text().startswith(before)
        deadline = time.monotonic() + 10
        while "Accepted connection" not in server.log() and time.monotonic() < deadline:
            with socket.create_connection(server.address, timeout=5):
                pass
            time.sleep(0.05)
        assert "Accepted connection" in server.log()
        assert before.splitlines()[0] not in server.log()
    finally:
        assert server.stop(signal.SIGTERM) == 0
