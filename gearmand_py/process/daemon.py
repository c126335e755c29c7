"""-d/--daemon: fork, and let the parent return only once the child serves.

The child starts a new session and its stdio goes to /dev/null, as gearmand's. It reports back
through a pipe: a ready line once it serves (bound and replayed), or the one-line error that
stops it, which the parent prints on its stderr. So ``gearmand-py -d`` exits 0 only when clients
can be served, and a Type=forking unit sees a failed start as a failure.
"""

from __future__ import annotations

import os
import signal
import sys

from gearmand_py.process.errors import Interrupted
from gearmand_py.settings import PROG

READY = b"ready\n"


class Detached:
    """The child's end of the pipe to the waiting parent."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def ready(self) -> None:
        self._send(READY)

    def failed(self, line: str) -> None:
        """The error that stops the child, for the parent's stderr."""
        self._send(line.rstrip("\n").encode(errors="replace") + b"\n")

    def _send(self, data: bytes) -> None:
        """Once: the parent stops listening after the first line."""
        if self._fd is None:
            return
        try:
            os.write(self._fd, data)
        except OSError:  # the parent is gone (killed); the child carries on regardless
            pass
        os.close(self._fd)
        self._fd = None


def detach() -> Detached | int:
    """Fork. In the child: a new session, stdio on /dev/null, and the pipe's end. In the parent:
    wait for the child's word and return the parent's exit status."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        return _wait_for_child(pid, read_end)
    os.close(read_end)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    return Detached(write_end)


def _wait_for_child(pid: int, read_end: int) -> int:
    """0 once the child is ready; otherwise print its error and return non-zero. Interrupted
    (Ctrl-C, SIGTERM) while waiting, the parent stops the child and reports what it says."""
    data = b""
    stopped = False
    while not data.endswith(b"\n"):
        try:
            chunk = os.read(read_end, 4096)
        except Interrupted:
            os.kill(pid, signal.SIGTERM)
            stopped = True
            continue
        if not chunk:
            break
        data += chunk
    os.close(read_end)
    if data == READY and not stopped:
        return 0
    if data == READY:  # it was serving by the time it got the SIGTERM, which stops it
        data = f"{PROG}: interrupted during startup\n".encode()
    status = _exit_status(pid)
    if data:
        sys.stderr.write(data.decode(errors="replace"))
    else:
        sys.stderr.write(f"{PROG}: the server exited during startup ({_describe(status)})\n")
    return status if status > 0 else 1


def _exit_status(pid: int) -> int:
    """The child's exit status once it has exited (negative: killed by that signal)."""
    while True:
        try:
            _, wait_status = os.waitpid(pid, 0)
        except Interrupted:
            continue
        return os.waitstatus_to_exitcode(wait_status)


def _describe(status: int) -> str:
    if status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"exit status {status}"
