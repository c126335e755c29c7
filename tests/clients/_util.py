"""Helpers shared by the real-client acceptance tests.

Every wait here is bounded, so a server that never answers fails a test instead of hanging CI.

External workers (gearman CLI, PHP, Perl) all follow one job contract, keyed on the payload:

* ``hold:<x>`` – report WORK_STATUS 1/4 (where the library can), then wait until the file
  ``<dir>/release`` exists (at most 15 s) before completing;
* ``fail:<x>`` – end with WORK_FAIL;  ``exc:<x>`` – end with WORK_EXCEPTION ``boom:<x>``;
* ``data:<x>`` – send WORK_DATA ``d1``, WORK_WARNING ``w1``, WORK_STATUS 2/3, then complete;
* anything else – append the payload and a newline to ``<dir>/done.log`` and complete with the
  payload reversed (``hold:`` and ``data:`` payloads are logged too, once released).

The in-process Python workers follow the same contract with :class:`JobLog` instead of files.
"""

from __future__ import annotations

import importlib
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

from tests.support.prerequisites import require

HERE = Path(__file__).resolve().parent
T = TypeVar("T")

#: Upper bound for any single client round trip in these tests (seconds).
ROUND_TRIP_TIMEOUT = 10.0



def require_module(name: str, pip_name: str) -> ModuleType:
    """Import ``name`` or skip/fail (see :func:`require`) naming the PyPI package to install."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(False, f"Python module {name!r} not importable ({exc}); "
                       f"pip install -r tests/clients/requirements.txt  # {pip_name}")
        raise  # unreachable: require() skipped or failed


def require_executable(name: str, hint: str) -> str:
    """Return the path of executable ``name`` or skip/fail with an install ``hint``."""
    path = shutil.which(name)
    require(path, f"{name} not found on PATH ({hint})")
    assert path is not None
    return path


def unique_name(prefix: str) -> str:
    """A function name no other test uses (the server is shared by a whole module)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_until(predicate: Callable[[], T], timeout: float = ROUND_TRIP_TIMEOUT,
               interval: float = 0.02, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run(cmd: Sequence[str], timeout: float = ROUND_TRIP_TIMEOUT, check: bool = True,
        input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` with a hard timeout; on failure show its output in the assertion message."""
    try:
        proc = subprocess.run(list(cmd), input=input.decode() if input is not None else None,
                              stdin=subprocess.DEVNULL if input is None else None,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout}s "
                    f"(stdout={exc.stdout!r} stderr={exc.stderr!r})")
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n"
                    f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def text_command(address: tuple[str, int], command: str, timeout: float = 5.0) -> list[str]:
    """Send one text admin command (e.g. ``workers``) and return its lines up to the final ``.``."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(command.encode() + b"\n")
        buf = b""
        deadline = time.monotonic() + timeout
        while not (buf == b".\n" or buf.endswith(b"\n.\n")):
            if time.monotonic() >= deadline:
                pytest.fail(f"no complete reply to {command!r} within {timeout}s: {buf!r}")
            chunk = sock.recv(65536)
            if not chunk:
                pytest.fail(f"connection closed during reply to {command!r}: {buf!r}")
            buf += chunk
    return buf.decode(errors="replace").splitlines()[:-1]


def wait_for_worker(address: tuple[str, int], function: str,
                    timeout: float = ROUND_TRIP_TIMEOUT) -> None:
    """Wait until some worker has registered ``function`` (seen in the ``workers`` command)."""
    def registered() -> bool:
        return any(function in line.split(" : ", 1)[-1].split()
                   for line in text_command(address, "workers") if " : " in line)
    wait_until(registered, timeout, what=f"a worker to register {function!r}")


def reverse(payload: str) -> str:
    """What every test worker returns for an ordinary payload."""
    return payload[::-1]


class ExternalWorker:
    """A worker process (CLI, PHP or Perl) following the file-based job contract in ``dir``."""

    def __init__(self, cmd: Sequence[str], dir: Path, ready_line: str | None = "ready",
                 ready_timeout: float = ROUND_TRIP_TIMEOUT) -> None:
        self.cmd = list(cmd)
        self.dir = dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = dir / "worker.stdout"
        self.stderr_path = dir / "worker.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        if ready_line is not None:
            wait_until(lambda: self._ready(ready_line), ready_timeout,
                       what=f"worker {self.cmd[:3]} to print {ready_line!r}")

    def _ready(self, line: str) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"worker {self.cmd} exited early with {self.proc.returncode}: {self.output()}")
        return line in self.stdout_path.read_text(errors="replace").splitlines()

    def output(self) -> str:
        """The worker's stdout and stderr, for failure messages."""
        out = self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""
        err = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        return f"stdout: {out}\nstderr: {err}"

    def done(self) -> list[str]:
        """Payloads the worker has finished so far, in order."""
        log = self.dir / "done.log"
        return log.read_text().splitlines() if log.exists() else []

    def wait_done(self, payloads: Iterable[str], timeout: float = ROUND_TRIP_TIMEOUT) -> list[str]:
        """Wait until every payload in ``payloads`` appears in done.log; return the whole log."""
        wanted = set(payloads)
        wait_until(lambda: wanted <= set(self.done()), timeout,
                   what=f"worker to run {sorted(wanted)} (done: {self.done()}; {self.output()})")
        return self.done()

    def release(self) -> None:
        """Let every ``hold:`` job finish."""
        (self.dir / "release").touch()

    def stop(self) -> None:
        """Terminate the worker (then kill it) and wait for it, bounded."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class JobLog:
    """In-process counterpart of done.log/release for Python workers running in threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.done: list[str] = []
        self.release_event = threading.Event()
        self.holding = threading.Event()

    def record(self, payload: str) -> None:
        """Note that the worker ran ``payload``."""
        with self._cond:
            self.done.append(payload)
            self._cond.notify_all()

    def hold(self) -> None:
        """Called by a worker on a ``hold:`` job: wait (bounded) for :meth:`release`."""
        self.holding.set()
        self.release_event.wait(15)

    def release(self) -> None:
        """Let every ``hold:`` job finish."""
        self.release_event.set()

    def wait_done(self, payloads: Iterable[str], timeout: float = ROUND_TRIP_TIMEOUT) -> list[str]:
        """Wait until every payload has been run; return all payloads run so far, in order."""
        wanted = set(payloads)
        with self._cond:
            ok = self._cond.wait_for(lambda: wanted <= set(self.done), timeout)
            snapshot = list(self.done)
        if not ok:
            pytest.fail(f"timed out after {timeout}s waiting for the worker to run "
                        f"{sorted(wanted - set(snapshot))}; it ran {snapshot}")
        return snapshot


def join_thread(thread: threading.Thread, timeout: float = 5.0) -> None:
    """Join ``thread`` with a timeout and fail if it is still alive."""
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"thread {thread.name} did not stop within {timeout}s")


def as_text(value: Any) -> str:
    """Decode bytes results from the byte-oriented libraries."""
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)
