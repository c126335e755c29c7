"""``Worker``: the modern face of the worker library, a ``GearmanWorker`` with tasks registered
by a decorator.

A task is ``fn(job: Job) -> bytes | str | None``; what it returns is the result. Raising
``JobFailed`` fails the job with WORK_FAIL; any other exception fails it with WORK_EXCEPTION
carrying ``"Type: message"`` (clients that did not ask for exceptions get WORK_FAIL from the
server). The worker grabs with
GRAB_JOB_ALL, so a reduce job's task sees its reducer and can hand its parts to it
(``Job.reduce``). ``run`` works until ``stop`` or, in the main thread, SIGTERM or SIGINT: a
signal while a job is held lets the job finish and its result go out first.
"""

from __future__ import annotations

import logging
import signal
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any, overload

from gearmand_py.client.connection import CONNECT_TIMEOUT
from gearmand_py.client.errors import JobFailed
from gearmand_py.client.jobs import BytesEncoder, GearmanJob, to_bytes
from gearmand_py.client.submit import Client, Data
from gearmand_py.client.worker import GearmanWorker
from gearmand_py.protocol.packets import NUMBERS

log = logging.getLogger(__name__)
N = NUMBERS
Result = bytes | bytearray | memoryview | str | None
TaskFunction = Callable[["Job"], Result]
#: How often ``run`` looks at ``stop`` while nothing arrives.
STOP_CHECK_INTERVAL = 1.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Stop(Exception):
    """A stop signal arrived while no job was held."""


class Job:
    """The job a task runs: what the server assigned, and the updates a task may send."""

    def __init__(self, worker: Worker, job: GearmanJob) -> None:
        self._worker = worker
        self._job = job
        self.handle: str = job.handle
        self.function: str = job.task
        self.unique: str = job.unique
        self.data: bytes = job.data
        #: The function a reduce job's parts go to; empty for other jobs.
        self.reducer: str = job.reducer

    def status(self, numerator: int, denominator: int) -> None:
        """Tell the job's clients how far it is (WORK_STATUS)."""
        self._worker.send_job_status(self._job, numerator, denominator)

    def send_data(self, data: Data) -> None:
        """A partial result for the job's clients (WORK_DATA)."""
        self._worker.send_job_data(self._job, to_bytes(data))

    def warn(self, data: Data) -> None:
        """A warning for the job's clients (WORK_WARNING)."""
        self._worker.send_job_warning(self._job, to_bytes(data))

    def reduce(self, parts: Iterable[Data], timeout: float | None = None) -> list[bytes]:
        """Run each part as a job of the reducer function, on the worker's servers, and return
        their results in order; the first that failed raises."""
        if not self.reducer:
            raise ValueError(f"{self.function} job {self.handle} is not a reduce job")
        client = self._worker.reduce_client()
        futures = [client.submit(self.reducer, part) for part in parts]
        if not client.wait(futures, timeout):
            raise TimeoutError(f"{self.reducer}: parts not done within {timeout} s")
        return [future.result(0) for future in futures]

    def __repr__(self) -> str:
        return f"<Job {self.function} handle={self.handle!r} unique={self.unique!r}>"


class Worker(GearmanWorker):
    """Runs tasks for jobs from every server in ``servers``; with ``ssl_context`` (e.g.
    ``tls_context(ca_file=..., certificate=..., key=...)``) every connection is TLS."""

    data_encoder = BytesEncoder
    grab_type = N.GRAB_JOB_ALL

    def __init__(self, servers: Iterable[str | tuple[str, int]] | None = None, *,
                 client_id: str | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(servers, connect_timeout, ssl_context)
        self._stop = threading.Event()
        self._reduce_client: Client | None = None
        if client_id is not None:
            self.set_client_id(client_id)

    @overload
    def task(self, name: TaskFunction) -> TaskFunction: ...

    @overload
    def task(self, name: str | None = None) -> Callable[[TaskFunction], TaskFunction]: ...

    def task(self, name: str | TaskFunction | None = None,
             ) -> TaskFunction | Callable[[TaskFunction], TaskFunction]:
        """Register the decorated function as the task for function ``name`` (default: its
        own name): ``@worker.task`` or ``@worker.task("resize")``."""
        if callable(name):
            return self.task()(name)

        def register(function: TaskFunction) -> TaskFunction:
            self.register_task(name or function.__name__,
                               lambda worker, job: function(Job(self, job)))
            return function
        return register

    def run(self) -> None:
        """Take and run jobs until ``stop`` is called or (main thread only) SIGTERM or SIGINT
        arrives; then close the connections."""
        main = threading.current_thread() is threading.main_thread()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS} \
            if main else {}
        try:
            self.work(poll_timeout=STOP_CHECK_INTERVAL)
        except _Stop:
            self.shutdown()
        finally:
            self._stop.clear()  # here, not first: a stop() asked before run began still ends it
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self._reduce_client is not None:
                self._reduce_client.close()
                self._reduce_client = None

    def stop(self) -> None:
        """Leave ``run`` after the job being run, if any (safe from any thread; seen within
        ``STOP_CHECK_INTERVAL`` while idle)."""
        self._stop.set()

    def reduce_client(self) -> Client:
        """The client reduce jobs send their parts with, on the worker's servers."""
        if self._reduce_client is None:
            self._reduce_client = Client(self._pool.addresses, connect_timeout=self._pool.timeout,
                                         ssl_context=self._pool.tls)
        return self._reduce_client

    # ---- GearmanWorker's hooks -----------------------------------------------------------------

    def on_job_complete(self, current_job: GearmanJob, job_result: Any) -> bool:
        return super().on_job_complete(current_job, b"" if job_result is None else job_result)

    def on_job_exception(self, current_job: GearmanJob, exc_info: Any) -> bool:
        _, exc, _ = exc_info
        if isinstance(exc, JobFailed):
            self.send_job_failure(current_job)
            return False
        log.error("%s job %s failed", current_job.task, current_job.handle, exc_info=exc_info)
        # WORK_EXCEPTION alone: servers treat it as final (python-gearman's WORK_FAIL after it
        # only gets ERROR JOB_NOT_FOUND back).
        self._send_job(N.WORK_EXCEPTION, current_job, f"{type(exc).__name__}: {exc}")
        return False

    def after_poll(self, any_activity: bool) -> bool:
        return not self._stop.is_set()

    def after_job(self) -> bool:
        return not self._stop.is_set()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._stop.set()
        if not self.holding_job:
            raise _Stop()
