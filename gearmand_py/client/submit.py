"""``Client``: the modern face of the client library, on ``GearmanClient``'s connection layer.

``submit`` sends a job and returns at once: a foreground job as a ``JobFuture`` (a
``concurrent.futures.Future`` of the result bytes), a background one, once the server has
accepted it, as a ``JobHandle``. Epoch jobs (``at=``) and reduce jobs (``reducer=``) are the
same call. The client is not thread-safe and has no I/O thread of its own: a future's I/O is
done by whoever waits (``result``, ``exception``, ``Client.wait``, ``Client.as_completed``), so
futures complete while one of those runs, and their callbacks run in that thread.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from gearmand_py.client.client import GearmanClient
from gearmand_py.client.connection import CONNECT_TIMEOUT
from gearmand_py.client.errors import (
    ConnectionLost, JobException, JobFailed, SubmitRejected,
)
from gearmand_py.client.jobs import (
    JOB_FAILED, JOB_UNKNOWN, PRIORITY_HIGH, PRIORITY_LOW, PRIORITY_NONE, BytesEncoder, GearmanJob,
    GearmanJobRequest, to_bytes,
)
from gearmand_py.client.servers import Address
from gearmand_py.protocol.packets import NUMBERS

N = NUMBERS
Data = bytes | bytearray | memoryview | str
Priority = Literal["high", "normal", "low"]
Epoch = datetime.datetime | float | int
_PRIORITIES = {"high": PRIORITY_HIGH, "normal": PRIORITY_NONE, "low": PRIORITY_LOW}
#: How long a background submit waits for JOB_CREATED by default.
ACCEPT_TIMEOUT = 30.0


@dataclass(frozen=True)
class JobStatus:
    """A job's status as the server reports it (GET_STATUS)."""

    known: bool
    running: bool
    numerator: int
    denominator: int


@dataclass(frozen=True)
class JobHandle:
    """A background job the server accepted: its handle, unique and server."""

    handle: str
    unique: str
    server: Address
    _request: GearmanJobRequest = field(repr=False, compare=False)


class JobFuture(concurrent.futures.Future):  # type: ignore[type-arg]
    """A foreground job's result (``bytes``) to come. ``result`` raises ``JobFailed`` (the
    worker failed it), ``JobException`` (the worker's exception text), ``SubmitRejected`` (the
    server refused the job) or ``ConnectionLost`` (its server went away, no retry left).
    Waiting drives the client's I/O; a submitted job cannot be cancelled, so ``cancel`` returns
    False."""

    def __init__(self, client: Client, function: str, unique: str) -> None:
        super().__init__()
        self.function = function
        self.unique = unique
        #: The server's job handle, once the server has accepted the job.
        self.handle: str | None = None
        #: WORK_DATA and WORK_WARNING payloads, and the last WORK_STATUS, as they arrive.
        self.data: list[bytes] = []
        self.warnings: list[bytes] = []
        self.progress: tuple[int, int] | None = None
        self._client = client
        self._request: GearmanJobRequest | None = None
        self._settled = False

    def done(self) -> bool:
        """Without the future's lock: waiting asks this after every packet, and only this
        client's I/O settles the future (it cannot be cancelled)."""
        return self._settled

    # Settled first: the done-callbacks run inside the base class's call, and see done().
    def set_result(self, result: bytes) -> None:
        self._settled = True
        super().set_result(result)

    def set_exception(self, exception: BaseException | None) -> None:
        self._settled = True
        super().set_exception(exception)

    def result(self, timeout: float | None = None) -> bytes:
        self._client.wait([self], timeout)
        return super().result(0)  # type: ignore[no-any-return]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._client.wait([self], timeout)
        return super().exception(0)

    def cancel(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<JobFuture {self.function} unique={self.unique!r} handle={self.handle!r} " \
               f"{'done' if self.done() else 'pending'}>"


class _Request(GearmanJobRequest):
    """A request and the future it completes; an epoch or reduce job has its own SUBMIT type
    and fields (``wire``), the others python-gearman's."""

    def __init__(self, job: GearmanJob, priority: str | None, background: bool,
                 max_attempts: int, wire: tuple[int, tuple[bytes, ...]] | None,
                 future: JobFuture | None) -> None:
        super().__init__(job, priority, background, max_attempts)
        self._wire = wire
        self.future = future
        if future is not None:
            future._request = self

    @property
    def submit_type(self) -> int:
        return super().submit_type if self._wire is None else self._wire[0]

    @property
    def submit_fields(self) -> tuple[bytes, ...]:
        return () if self._wire is None else self._wire[1]


class _FutureClient(GearmanClient):
    """GearmanClient whose requests complete futures; bytes out, and the exceptions option on
    every connection so a worker's exception text reaches the future."""

    data_encoder = BytesEncoder
    connection_options = (b"exceptions",)

    def on_job_packet(self, request: GearmanJobRequest, ptype: int, args: Any) -> None:
        future = getattr(request, "future", None)
        if future is None:
            return
        if ptype == N.JOB_CREATED:
            future.handle = request.job.handle
        elif ptype == N.WORK_COMPLETE:
            future.set_result(request.result)
        elif ptype == N.WORK_EXCEPTION:
            future.set_exception(JobException(future.handle, request.exception))
        elif ptype == N.WORK_FAIL:
            future.set_exception(JobFailed(future.handle))
        elif ptype == N.ERROR:
            future.set_exception(SubmitRejected(request.exception))
        elif ptype == N.WORK_DATA:
            future.data.append(request.data_updates.popleft())
        elif ptype == N.WORK_WARNING:
            future.warnings.append(request.warning_updates.popleft())
        elif ptype == N.WORK_STATUS:
            future.progress = (request.status["numerator"], request.status["denominator"])

    def on_request_lost(self, request: GearmanJobRequest) -> None:
        future = getattr(request, "future", None)
        if future is not None:
            conn = request.job.connection
            future.set_exception(ConnectionLost(
                f"{conn.address}: connection lost before the job completed"
                + (f" ({conn.failure})" if conn.failure else "")))


class Client:
    """Submits jobs to one or more servers (``"host:port"``, ``"[v6]:port"`` or
    ``(host, port)``); each job goes to the server its unique hashes to, or the next one up.
    With ``ssl_context`` (e.g. ``tls_context(ca_file=...)``) every connection is TLS."""

    def __init__(self, servers: Iterable[str | tuple[str, int]] | None = None, *,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._core = _FutureClient(servers, connect_timeout=connect_timeout,
                                   ssl_context=ssl_context)

    @overload
    def submit(self, function: str, data: Data = b"", *, unique: str | None = None,
               priority: Priority = "normal", reducer: str | None = None,
               background: Literal[False] = False, max_retries: int = 0) -> JobFuture: ...

    @overload
    def submit(self, function: str, data: Data = b"", *, unique: str | None = None,
               priority: Priority = "normal", reducer: str | None = None,
               background: Literal[True], at: Epoch | None = None, max_retries: int = 0,
               timeout: float | None = ACCEPT_TIMEOUT) -> JobHandle: ...

    def submit(self, function: str, data: Data = b"", *, unique: str | None = None,
               priority: Priority = "normal", reducer: str | None = None,
               background: bool = False, at: Epoch | None = None, max_retries: int = 0,
               timeout: float | None = ACCEPT_TIMEOUT) -> JobFuture | JobHandle:
        """Send a job. Foreground: a ``JobFuture`` at once. Background: a ``JobHandle`` once
        the server accepted it (``SubmitRejected`` if it refused, ``TimeoutError`` after
        ``timeout``). ``at`` (a datetime or Unix time) makes an epoch job, ``reducer`` a reduce
        job whose worker sends its parts to the ``reducer`` function; both are normal priority
        on the wire, and an epoch job is always a background job."""
        if priority not in _PRIORITIES:
            raise ValueError(f"priority must be 'high', 'normal' or 'low', not {priority!r}")
        if (at is not None or reducer is not None) and priority != "normal":
            raise ValueError("epoch and reduce jobs have normal priority only")
        if at is not None and not background:
            raise ValueError("an epoch job (at=) is a background job: pass background=True")
        if at is not None and reducer is not None:
            raise ValueError("a job is an epoch job (at=) or a reduce job (reducer=), not both")
        unique = unique or os.urandom(self._core.random_unique_bytes).hex()
        future = None if background else JobFuture(self, function, unique)
        job = GearmanJob(None, None, function, unique, to_bytes(data))
        request = _Request(job, _PRIORITIES[priority], background, max_retries + 1,
                           _wire(background, at, reducer), future)
        self._core.send_request(request)
        if future is not None:
            return future
        self._core.wait_until_jobs_accepted([request], timeout)
        if request.state == JOB_FAILED:
            raise SubmitRejected(request.exception)
        if request.timed_out or request.state == JOB_UNKNOWN:
            raise TimeoutError(f"{function}: no JOB_CREATED within {timeout} s")
        return JobHandle(request.job.handle, unique, request.job.connection.address, request)

    def status(self, job: JobHandle | JobFuture, timeout: float | None = ACCEPT_TIMEOUT,
               ) -> JobStatus:
        """Ask the job's server about it (GET_STATUS); a job the server no longer knows (done,
        or its server restarted) is ``known=False``."""
        request = job._request
        if request is None or request.job.handle is None:
            raise ValueError(f"{job!r} has no handle yet")
        self._core.get_job_status(request, timeout)
        if request.state == JOB_UNKNOWN:
            raise ConnectionLost(f"{request.job.connection.address}: connection lost")
        if request.timed_out:
            raise TimeoutError(f"no STATUS_RES for {request.job.handle} within {timeout} s")
        status = request.status
        if not status:
            return JobStatus(False, False, 0, 0)
        return JobStatus(status["known"], status["running"], status["numerator"],
                         status["denominator"])

    def wait(self, futures: Sequence[JobFuture], timeout: float | None = None) -> bool:
        """Do I/O until every future is done or ``timeout`` passes; True if all are done."""
        checked = 0  # futures[:checked] are done: each is asked once, not after every packet

        def all_done() -> bool:
            nonlocal checked
            while checked < len(futures) and futures[checked].done():
                checked += 1
            return checked == len(futures)
        self._core.poll_until(all_done, timeout)
        return all_done()

    def as_completed(self, futures: Iterable[JobFuture], timeout: float | None = None,
                     ) -> Iterator[JobFuture]:
        """The futures as they complete; ``TimeoutError`` if some are not done in time."""
        pending = list(futures)
        deadline = None if timeout is None else time.monotonic() + timeout
        while pending:
            if not any(f.done() for f in pending):
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._core.poll_until(lambda: any(f.done() for f in pending), left)
                if not any(f.done() for f in pending):
                    raise TimeoutError(f"{len(pending)} jobs not done in time")
            for future in [f for f in pending if f.done()]:
                pending.remove(future)
                yield future

    def close(self) -> None:
        """Close every connection; jobs not done yet stay unfinished."""
        self._core.shutdown()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def _wire(background: bool, at: Epoch | None, reducer: str | None,
          ) -> tuple[int, tuple[bytes, ...]] | None:
    """The SUBMIT type and the fields before the data of an epoch or reduce job; None for the
    others."""
    if at is not None:
        when = at.timestamp() if isinstance(at, datetime.datetime) else at
        return N.SUBMIT_JOB_EPOCH, (str(int(when)).encode(),)
    if reducer is not None:
        # FUNC, UNIQ, REDUCER, AGGREGATE, DATA: libgearman sends an empty aggregate, which
        # servers ignore.
        return (N.SUBMIT_REDUCE_JOB_BACKGROUND if background else N.SUBMIT_REDUCE_JOB,
                (to_bytes(reducer), b""))
    return None
