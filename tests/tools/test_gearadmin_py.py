"""gearadmin-py against Debian's gearadmin: the same command lines give the same stdout, stderr
and exit status, against gearmand 1.1.20 and gearmand-py in the same prepared state (the steps
of tests/differential/test_gearadmin.py), and without a server (usage errors, help, connection
failures). Normalised: the program name, and gearadmin-py's two extra options in its help."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest

from tests.differential.test_gearadmin import GEARADMIN, STEPS, require_tools, run_steps
from tests.support.servers import REPO, free_port, start_server

GEARADMIN_PY = (sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); "
                "sys.argv[0] = 'gearadmin-py'; from gearmand_py.tools.gearadmin import main; "
                "raise SystemExit(main())")
#: gearadmin-py's own options in its help, which gearadmin lacks.
EXTRA_HELP = re.compile(rb"  --maxqueue arg .*\n .*\n  --shutdown .*\n .*\n")


def _run(tool: tuple[str, ...], args: list[str]) -> tuple[int, bytes, bytes]:
    done = subprocess.run([*tool, *args], capture_output=True, timeout=20)
    return done.returncode, _normalise(done.stdout), done.stderr


def _normalise(stdout: bytes) -> bytes:
    stdout = re.sub(rb"^\S*?(gearadmin|gearadmin-py) : ", b"<program> : ", stdout, flags=re.M)
    return EXTRA_HELP.sub(b"", stdout)


OFFLINE = [
    [], ["--help"], ["--help", "--status"], ["--bogus"], ["-x"], ["--cancel-job"], ["-h"],
    ["--status", "--status"], ["--cancel-job=a", "--cancel-job=b"], ["--status=1"],
    ["--ssl=1"], ["--server"], ["--show"], ["--h"], ["extra"], ["--", "--status"],
    ["-h", "127.0.0.1", "-p", "<dead>", "--status"], ["--host=127.0.0.1", "--port=<dead>",
                                                      "--stat"],
    ["-h127.0.0.1", "-p<dead>", "--workers", "--status"], ["--port=abc", "--status"],
    ["-h", "nosuchhost.invalid", "--status"],
]


@pytest.mark.parametrize("args", OFFLINE, ids=" ".join)
def test_same_output_without_a_server(args: list[str]) -> None:
    require_tools()
    dead = str(free_port())
    args = [arg.replace("<dead>", dead) for arg in args]
    assert _run(GEARADMIN_PY, args) == _run((GEARADMIN,), args)


@pytest.mark.parametrize("kind", ["gearmand", "gearmand-py"])
def test_same_output_on_every_step(kind: str) -> None:
    """Each tool gets its own server of ``kind`` brought to the same state, then every step."""
    require_tools()
    expected = run_steps(kind, "4")
    actual = run_steps(kind, "4", GEARADMIN_PY)
    assert [name for name, _ in STEPS] == list(actual)
    for name, _ in STEPS:
        assert actual[name] == expected[name], name


def test_maxqueue_and_shutdown() -> None:
    server = start_server("gearmand-py")
    try:
        port = str(server.port)
        # maxqueue of an unknown function changes nothing, so the function is created first;
        # gearadmin-py runs --create-function before --maxqueue whatever their order.
        assert _run(GEARADMIN_PY, ["-p", port, "--maxqueue", "mq-fn 1", "--create-function",
                                   "mq-fn"]) == (0, b"OK\nOK\n", b"")
        submit = b"\0REQ" + (18).to_bytes(4, "big")
        with socket.create_connection(server.address, timeout=5) as client:
            for unique in (b"a", b"b"):
                body = b"mq-fn\0" + unique + b"\0data"
                client.sendall(submit + len(body).to_bytes(4, "big") + body)
            replies = b""
            while replies.count(b"\0RES") < 2:
                replies += client.recv(4096)
        assert b"Job queue is full" in replies
        assert _run(GEARADMIN_PY, ["-p", port, "--maxqueue", "mq-fn"]) == (0, b"OK\n", b"")
        assert _run(GEARADMIN_PY, ["-p", port, "--shutdown"]) == (0, b"OK\n", b"")
        assert server.proc.wait(10) == 0
    finally:
        server.stop()
