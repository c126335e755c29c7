"""gearman-py against Debian's gearman (gearman-tools 1.1.20): the same command lines and stdin
give the same stdout, stderr and exit status, without a server and against gearmand 1.1.20 and
gearmand-py. Client mode runs against libgearman's own ``gearman -w`` workers; worker mode runs
gearman's client against each tool's workers (the cross tests). Normalised: the pid in
libgearman's error lines and job handles (``Task created: H:...``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prerequisites import require
from tests.support.servers import REPO, ServerProcess, free_port, gearmand_available, start_server

GEARMAN = shutil.which("gearman") or "/usr/bin/gearman"
GEARMAN_PY = (sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); "
              "sys.argv[0] = 'gearman'; from gearmand_py.tools.gearman import main; "
              "raise SystemExit(main())")
SERVER_ARGS = {"gearmand": [], "gearmand-py": ["-t", "0"]}
#: libgearman workers the client cases talk to: function, worker options and command.
WORKERS = [
    ["-f", "rev", "--", "rev"],
    ["-f", "lines", "-n", "--", "cat"],
    ["-f", "stripped", "-N", "--", "cat"],
    ["-f", "fail", "--", "sh", "-c", "echo partial; exit 3"],
    ["-f", "echo"],
]
TIMEOUT = 20
WORKER_UNIT = REPO / "conf" / "gearman-py-worker@.service"


def require_tools() -> None:
    missing = [what for what, ok in (("gearmand", gearmand_available()),
                                      ("gearman", os.path.exists(GEARMAN))) if not ok]
    require(not missing, f"{' and '.join(missing)} not installed "
                         "(apt-get install gearman-job-server gearman-tools)")


def _normalise(data: bytes) -> bytes:
    data = re.sub(rb"pid\(\d+\)", b"pid(N)", data)
    return re.sub(rb"H:\S+", b"H:<handle>", data)


def _run(tool: tuple[str, ...], args: list[str], stdin: bytes = b"",
         env: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
    # gearman names itself by argv[0] in its usage (GEARMAN_PY sets its own to "gearman").
    argv = ["gearman", *args] if tool == (GEARMAN,) else [*tool, *args]
    done = subprocess.run(argv, executable=tool[0], input=stdin, capture_output=True,
                          timeout=TIMEOUT, env=env)
    return done.returncode, _normalise(done.stdout), _normalise(done.stderr)


def _both(args: list[str], stdin: bytes = b"",
          env: dict[str, str] | None = None) -> None:
    assert _run(GEARMAN_PY, args, stdin, env) == _run((GEARMAN,), args, stdin, env)


def _at(server: ServerProcess) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(server.port)]


OFFLINE = [
    [], ["-H"], ["-H", "-f", "x", "-b", "-n"], ["-H", "-N", "-w", "-v"], ["-x", "-f", "a"],
    ["--help", "-f", "a"], ["-f"], ["-b"], ["-h", "127.0.0.1", "-p", "<dead>", "-f", "a", "-s"],
    ["-p", "<dead>", "-f", "a", "-n"], ["-h", "nosuchhost.invalid", "-f", "a", "-s"],
    ["-w", "-h", "nosuchhost.invalid", "-f", "a"],
]


@pytest.mark.parametrize("args", OFFLINE, ids=" ".join)
def test_same_output_without_a_server(args: list[str]) -> None:
    require_tools()
    dead = str(free_port())
    _both([arg.replace("<dead>", dead) for arg in args], b"one\ntwo\n")


def test_gearman_server_environment_wins_over_h_and_p() -> None:
    require_tools()
    dead = str(free_port())
    env = dict(os.environ, GEARMAN_SERVER=f"127.0.0.1:{dead}")
    _both(["-h", "127.0.0.1", "-p", "1", "-f", "a", "-s"], env=env)


@pytest.fixture(scope="module", params=list(SERVER_ARGS))
def served(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A server of each kind with libgearman's workers for the functions in WORKERS."""
    require_tools()
    server = start_server(request.param, SERVER_ARGS[request.param])
    workers = [subprocess.Popen([GEARMAN, "-w", *_at(server), *options],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for options in WORKERS]
    try:
        _wait_for_workers(server, len(WORKERS))
        yield server
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        server.stop()


def _wait_for_workers(server: ServerProcess, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        status = subprocess.run(["gearadmin", *_at(server), "--status"], capture_output=True,
                                timeout=TIMEOUT).stdout
        if sum(1 for line in status.splitlines() if line.endswith(b"\t1")) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} workers did not register")


LINES = b"ab\ncd\nef"
CLIENT = [
    (["-f", "rev"], b"hello\nworld\n"), (["-v", "-f", "rev"], b"hi"),
    (["-P", "-f", "rev"], b"hi\n"), (["-n", "-f", "rev"], LINES), (["-N", "-f", "rev"], LINES),
    (["-N", "-P", "-f", "rev"], LINES), (["-f", "rev", "a1", "b2"], b"unread"),
    (["-s", "-f", "rev"], b"unread"), (["-P", "-f", "lines"], b"x\ny\nz\n"),
    (["-f", "stripped"], b"x\ny\nz\n"), (["-f", "fail"], b"q"), (["-P", "-f", "fail"], b"q"),
    (["-f", "rev", "-f", "echo"], b"two"), (["-I", "-u", "one", "-f", "rev"], b"high"),
    (["-L", "-f", "rev"], b"low"), (["-b", "-v", "-f", "nobody"], b"queued"),
    (["-b", "-I", "-f", "nobody"], b"queued"), (["-t", "200", "-f", "nobody"], b"waits"),
]


@pytest.mark.parametrize("args,stdin", CLIENT, ids=[" ".join(args) for args, _ in CLIENT])
def test_client_mode(served: ServerProcess, args: list[str], stdin: bytes) -> None:
    _both([*_at(served), *args], stdin)


#: Each tool's workers (worker options, command) and the gearman client runs they answer, in
#: order; ``-c`` makes each worker exit once its runs are done.
WORKER_MODE = [
    (["-f", "w-rev", "-c", "2", "--", "rev"], [(["-f", "w-rev"], b"ab\ncd"),
                                               (["-P", "-f", "w-rev"], b"x")]),
    (["-f", "w-lines", "-N", "-c", "1", "--", "cat"], [(["-P", "-f", "w-lines"], b"a\nb\n")]),
    (["-f", "w-each", "-n", "-c", "1", "--", "cat"], [(["-f", "w-each"], b"a\nb\nc")]),
    (["-f", "w-fail", "-c", "1", "--", "sh", "-c", "cat; exit 3"], [(["-f", "w-fail"], b"q")]),
    (["-f", "w-echo", "-c", "1"], [(["-f", "w-echo"], b"echoed")]),
]


def _worker_mode(tool: tuple[str, ...], server: ServerProcess, scratch: Path) -> list[object]:
    """Outputs of every client run and of every worker, with ``tool``'s workers."""
    workers = []
    for index, (options, _) in enumerate(WORKER_MODE):
        out, err = scratch / f"{index}.out", scratch / f"{index}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            workers.append(subprocess.Popen([*tool, "-w", *_at(server), *options],
                                            stdout=stdout, stderr=stderr))
    _wait_for_workers(server, len(WORKER_MODE))
    seen: list[object] = [_run((GEARMAN,), [*_at(server), *args], stdin)
                          for _, runs in WORKER_MODE for args, stdin in runs]
    for index, worker in enumerate(workers):
        seen.append((worker.wait(TIMEOUT), _normalise((scratch / f"{index}.out").read_bytes()),
                     _normalise((scratch / f"{index}.err").read_bytes())))
    return seen


@pytest.mark.parametrize("kind", list(SERVER_ARGS))
def test_worker_mode(kind: str, tmp_path: Path) -> None:
    """gearman's client sees the same from gearman-py's workers as from gearman's, and the
    workers print the same and exit with the same status after ``-c`` jobs."""
    require_tools()
    server = start_server(kind, SERVER_ARGS[kind])
    try:
        expected = _worker_mode((GEARMAN,), server, tmp_path)
        assert _worker_mode(GEARMAN_PY, server, tmp_path) == expected
    finally:
        server.stop()


def test_worker_timeouts_count_towards_c() -> None:
    require_tools()
    server = start_server("gearmand-py", SERVER_ARGS["gearmand-py"])
    try:
        _both(["-w", *_at(server), "-f", "idle", "-t", "100", "-c", "2"])
    finally:
        server.stop()


def test_sigterm_mid_job_finishes_the_job(tmp_path: Path) -> None:
    """SIGTERM while the command runs: the client still gets the result, the worker exits 0;
    SIGTERM to an idle worker ends it at once."""
    require_tools()
    server = start_server("gearmand-py", SERVER_ARGS["gearmand-py"])
    started = tmp_path / "started"
    command = ["sh", "-c", f"touch {started}; sleep 0.3; tr a-z A-Z"]
    worker = subprocess.Popen([*GEARMAN_PY, "-w", *_at(server), "-f", "slow", "--", *command])
    client: subprocess.Popen | None = None
    idle: subprocess.Popen | None = None
    try:
        _wait_for_workers(server, 1)
        workload = tmp_path / "workload"
        workload.write_bytes(b"finish me")
        with workload.open("rb") as stdin:
            client = subprocess.Popen([GEARMAN, *_at(server), "-f", "slow"], stdin=stdin,
                                      stdout=subprocess.PIPE)
        deadline = time.monotonic() + TIMEOUT
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        worker.send_signal(signal.SIGTERM)
        # Without the handler the job goes back to the queue and the client waits on.
        assert client.communicate(timeout=5) == (b"FINISH ME", None)
        assert worker.wait(TIMEOUT) == 0
        idle = subprocess.Popen([*GEARMAN_PY, "-w", *_at(server), "-f", "slow"])
        _wait_for_workers(server, 1)
        idle.send_signal(signal.SIGTERM)
        assert idle.wait(TIMEOUT) == 0
    finally:
        for process in (worker, client, idle):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        server.stop()


def test_worker_unit_template_verifies(tmp_path: Path) -> None:
    """The template passes ``systemd-analyze verify`` for an instance, on a copy whose ExecStart
    runs gearman-py from this checkout (verify wants an executable)."""
    require(shutil.which("systemd-analyze"), "systemd-analyze is not installed (Debian: systemd)")
    installed = "ExecStart=/usr/local/bin/gearman-py "
    text = WORKER_UNIT.read_text()
    assert installed in text and "KillMode=mixed" in text
    here = f"ExecStart={sys.executable} -m gearmand_py.tools.gearman "
    (tmp_path / WORKER_UNIT.name).write_text(text.replace(installed, here))
    done = subprocess.run(["systemd-analyze", "verify", "gearman-py-worker@resize.service"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
