"""Pieces the client-library tests share: workers run in a thread of the test (real sockets,
real servers) or as a python-gearman-style script in a process of its own."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gearmand_py.client.compat import GearmanWorker
from tests.support.servers import ServerProcess, repo_env

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def hosts(*servers: ServerProcess) -> list[str]:
    return [f"127.0.0.1:{server.port}" for server in servers]


def run_script(name: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                          text=True, timeout=timeout, env=repo_env())


class _StoppableWorker(GearmanWorker):
    """A worker whose ``work`` loop leaves once ``stop`` is set (checked after every poll)."""

    def __init__(self, host_list: list[str], ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(host_list, ssl_context=ssl_context)
        self.stop = threading.Event()
        self.jobs_done = 0

    def after_poll(self, any_activity: bool) -> bool:
        return not self.stop.is_set()

    def after_job(self) -> bool:
        self.jobs_done += 1
        return not self.stop.is_set()


@contextmanager
def worker_thread(host_list: list[str], tasks: dict[str, Callable[..., Any]],
                  client_id: str | None = None, ssl_context: ssl.SSLContext | None = None,
                  ) -> Iterator[_StoppableWorker]:
    """A worker working in a thread until the block ends."""
    worker = _StoppableWorker(host_list, ssl_context)
    if client_id is not None:
        worker.set_client_id(client_id)
    for task, function in tasks.items():
        worker.register_task(task, function)
    with in_thread(lambda: worker.work(poll_timeout=0.2), worker.stop.set):
        yield worker


@contextmanager
def in_thread(run: Callable[[], None], stop: Callable[[], None]) -> Iterator[None]:
    """``run()`` in a thread until the block ends, then ``stop()``; what ``run`` raised is
    raised here, not lost in the thread."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as exc:
            failure.append(exc)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop()
        thread.join(10)
        assert not thread.is_alive(), "worker did not stop"
        if failure:
            raise failure[0]
