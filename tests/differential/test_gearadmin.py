"""gearadmin (gearman-tools 1.1.20) against gearmand and gearmand-py in the same prepared state.

Each server is brought to the same state (a worker with an id and two functions, one of its jobs
running; queued background and foreground jobs with and without uniques; a client waiting), then
every gearadmin option is run in a fixed order (the mutating ones last) and stdout, stderr and
the exit status are compared with gearmand's.  Normalised: the version string, the pid, the FD
column of ``--workers`` and the row order of every listing (gearmand lists in hash order).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.support.prerequisites import require
from tests.support.servers import ServerProcess, gearmand_available, start_server

from tests.support.wire import Conn

GEARADMIN = shutil.which("gearadmin") or "/usr/bin/gearadmin"
CANDIDATE = os.environ.get("GEARMAND_DIFF_CANDIDATE", "gearmand-py")
THREADS = ["4", "0"]


@dataclass
class Prepared:
    """A server in the prepared state: the connections that hold it and the job handles."""

    server: ServerProcess
    conns: list[Conn] = field(default_factory=list)
    handles: dict[str, str] = field(default_factory=dict)
    admin: Conn | None = None
    baseline: int = 0


def _open(p: Prepared) -> Conn:
    c = Conn(p.server.address)
    p.conns.append(c)
    return c


def _round_trip(c: Conn) -> None:
    c.send("ECHO_REQ", b"sync")
    assert c.recv_packet().name == "ECHO_RES"


def _submit(c: Conn, ptype: str, function: str, unique: str, data: str) -> str:
    c.send(ptype, function, unique, data)
    reply = c.recv_packet()
    assert reply.name == "JOB_CREATED", reply
    return reply.args[0].decode()


def prepare(p: Prepared) -> None:
    """Bring ``p.server`` to the prepared state."""
    worker = _open(p)
    worker.send("SET_CLIENT_ID", "resize-worker-01")
    worker.send("CAN_DO", "resize")
    worker.send("CAN_DO", "thumb")
    _round_trip(worker)
    other = _open(p)
    other.send("CAN_DO", "resize")
    _round_trip(other)
    client = _open(p)
    client.send("SET_CLIENT_ID", "client-1")
    p.handles["img1"] = _submit(client, "SUBMIT_JOB_HIGH_BG", "resize", "img-1", "a")
    p.handles["img2"] = _submit(client, "SUBMIT_JOB_BG", "resize", "img-2", "b")
    p.handles["nouniq"] = _submit(client, "SUBMIT_JOB_LOW_BG", "resize", "", "c")
    p.handles["t1"] = _submit(client, "SUBMIT_JOB_HIGH", "thumb", "t-1", "d")
    p.handles["fg"] = _submit(client, "SUBMIT_JOB_LOW", "resize", "fg-1", "e")
    # thumb's job is HIGH and thumb the newest CAN_DO: per-function (gearmand) and global
    # (gearmand-py) priority agree on giving it to the worker.
    worker.send("GRAB_JOB")
    assigned = worker.recv_packet()
    assert assigned.name == "JOB_ASSIGN", assigned
    p.admin = _open(p)
    p.admin.send_line("create function empty")
    assert p.admin.recv_line() == b"OK\r\n"
    p.baseline = len(p.conns) + 1  # one line per open connection, then ".\n"


def _workers(admin: Conn) -> list[bytes]:
    admin.send_line("workers")
    return admin.recv_list()


def settle(p: Prepared) -> None:
    """Wait until the server lists exactly the prepared connections (the start-up probe's and the
    previous gearadmin's connections gone), so ``--workers`` lists the same ones on both."""
    assert p.admin is not None
    deadline = time.monotonic() + 5
    while len(_workers(p.admin)) != p.baseline and time.monotonic() < deadline:
        time.sleep(0.01)


# (test id, gearadmin arguments given the prepared state), run in this order on one server.
STEPS: list[tuple[str, Callable[[Prepared], list[str]]]] = [
    ("status", lambda p: ["--status"]),
    ("priority-status", lambda p: ["--priority-status"]),
    ("workers", lambda p: ["--workers"]),
    ("server-version", lambda p: ["--server-version"]),
    ("server-verbose", lambda p: ["--server-verbose"]),
    ("getpid", lambda p: ["--getpid"]),
    ("show-jobs", lambda p: ["--show-jobs"]),
    ("show-unique-jobs", lambda p: ["--show-unique-jobs"]),
    ("every-read-option", lambda p: ["--status", "--priority-status", "--workers",
                                     "--server-version", "--server-verbose", "--show-jobs",
                                     "--show-unique-jobs", "--getpid"]),
    ("create-function", lambda p: ["--create-function", "newfn"]),
    ("create-function-existing", lambda p: ["--create-function", "resize"]),
    ("status-after-create", lambda p: ["--status"]),
    ("drop-function", lambda p: ["--drop-function", "newfn"]),
    ("drop-function-other-case", lambda p: ["--drop-function", "EMPTY"]),
    ("drop-function-unknown", lambda p: ["--drop-function", "nosuch"]),
    ("drop-function-with-workers", lambda p: ["--drop-function", "resize"]),
    ("cancel-job", lambda p: ["--cancel-job", p.handles["img2"]]),
    ("cancel-job-again", lambda p: ["--cancel-job", p.handles["img2"]]),
    ("cancel-job-unknown", lambda p: ["--cancel-job", "H:nosuch:1"]),
    ("show-jobs-after-cancel", lambda p: ["--show-jobs"]),
    ("status-at-end", lambda p: ["--status", "--priority-status"]),
]

Result = tuple[int, bytes, bytes]


LEVELS = {b"FATAL", b"ALERT", b"CRITICAL", b"ERROR", b"WARNING", b"NOTICE", b"INFO", b"DEBUG"}


def normalise(stdout: bytes, pid: int) -> bytes:
    """Version, pid, FD column and row order.  gearadmin prints one reply after another; a
    listing's rows (up to its ``.\\n``) are sorted, one-line replies keep their place."""
    out: list[bytes] = []
    rows: list[bytes] = []
    for line in stdout.splitlines(keepends=True):
        single: bytes | None = None
        if re.fullmatch(rb"1\.1\.20[^\n]*\n", line):
            single = b"<version>\n"
        elif re.fullmatch(rb"\d+\n", line) and int(line) == pid:
            single = b"<pid>\n"
        elif line == b"OK\n" or line.rstrip(b"\n") in LEVELS:
            single = line
        if single is not None and not rows:
            out.append(single)
        elif line == b".\n":
            out += sorted(rows) + [line]
            rows = []
        else:
            rows.append(re.sub(rb"^\d+ (\S+ \S+ :)", rb"<fd> \1", line))
    return b"".join(out + rows)


def normalise_errors(stderr: bytes) -> bytes:
    """What holds a function ``drop function`` refuses: gearmand-py names it, gearmand always
    says "connected workers or executing clients" (a listed difference)."""
    return re.sub(rb"(?m)^Error: there are still [^\r\n]+", b"Error: there are still <holders>",
                  stderr)


def run_steps(kind: str, threads: str, tool: tuple[str, ...] = (GEARADMIN,)) -> dict[str, Result]:
    """Every step of STEPS run with ``tool`` (gearadmin, or a command line that acts like it)
    on a fresh server of ``kind`` in the prepared state."""
    server = start_server(kind, ["-t", threads])
    results: dict[str, Result] = {}
    p = Prepared(server)
    try:
        prepare(p)
        for name, argv in STEPS:
            settle(p)
            done = subprocess.run([*tool, "-h", "127.0.0.1", "-p", str(server.port), *argv(p)],
                                  capture_output=True, timeout=20)
            results[name] = (done.returncode, normalise(done.stdout, server.proc.pid),
                             normalise_errors(done.stderr))
        assert server.proc.poll() is None, f"{kind} died: {server.log()[-2000:]}"
        return results
    finally:
        for c in p.conns:
            c.close()
        server.stop()


_results: dict[tuple[str, str], dict[str, Result]] = {}


def results_for(kind: str, threads: str) -> dict[str, Result]:
    if (kind, threads) not in _results:
        _results[(kind, threads)] = run_steps(kind, threads)
    return _results[(kind, threads)]


def require_tools() -> None:
    missing = [what for what, ok in (("gearmand", gearmand_available()),
                                      ("gearadmin", os.path.exists(GEARADMIN))) if not ok]
    require(not missing, f"{' and '.join(missing)} not installed "
                         "(apt-get install gearman-job-server gearman-tools)")


@pytest.mark.parametrize("threads", THREADS, ids=[f"{CANDIDATE}-t{t}" for t in THREADS])
@pytest.mark.parametrize("step", [name for name, _ in STEPS])
def test_gearadmin_same_output(step: str, threads: str) -> None:
    """gearadmin prints the same (normalised) output and exits the same against both servers."""
    require_tools()
    expected = results_for("gearmand", "4")[step]
    actual = results_for(CANDIDATE, threads)[step]
    assert actual == expected


def test_normalise() -> None:
    assert normalise(b"1.1.20+ds\n", 1) == b"<version>\n"
    assert normalise(b"1.1.20+gearmand-py-0.1.0\n", 1) == b"<version>\n"
    assert normalise(b"4242\n", 4242) == b"<pid>\n"
    assert normalise(b"4242\n", 1) == b"4242\n"
    assert normalise(b"7\nERROR\n1.1.20+ds\n38 127.0.0.1 - :\n7 127.0.0.1 id : f g\n.\n"
                     b"b\t1\n a\t2\n.\nOK\n", 7) == (
        b"<pid>\nERROR\n<version>\n<fd> 127.0.0.1 - :\n<fd> 127.0.0.1 id : f g\n.\n"
        b" a\t2\nb\t1\n.\nOK\n")
