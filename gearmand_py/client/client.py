"""``GearmanClient``: python-gearman 2.0.2's client on several servers with failover.

Each request goes to the server its unique hashes to (``servers.order_for``), or to the next one
up when that one is down. A request whose connection is lost before it completes is sent again
on the next server while its ``max_retries`` allow; otherwise its state goes back to
``JOB_UNKNOWN``, as in python-gearman.
"""

from __future__ import annotations

import collections
import os
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gearmand_py.client.connection import CONNECT_TIMEOUT, Connection, Poller
from gearmand_py.client.errors import ConnectionLost, ProtocolError, ServerUnavailable
from gearmand_py.client.jobs import (
    JOB_COMPLETE, JOB_CREATED, JOB_FAILED, JOB_PENDING, JOB_UNKNOWN, PRIORITY_NONE, GearmanJob,
    GearmanJobRequest, TextEncoder, to_bytes,
)
from gearmand_py.client.pool import Pool
from gearmand_py.client.servers import order_for, parse_addresses
from gearmand_py.protocol.codec import encode_request
from gearmand_py.protocol.events import Packet
from gearmand_py.protocol.numbers import atoi
from gearmand_py.protocol.packets import NUMBERS

RANDOM_UNIQUE_BYTES = 16
N = NUMBERS


@dataclass
class _Waiting:
    """What one connection owes us: handles for submitted requests (in order), results for
    created ones, and status replies."""

    accepting: collections.deque[GearmanJobRequest] = field(default_factory=collections.deque)
    running: dict[bytes, GearmanJobRequest] = field(default_factory=dict)
    statuses: dict[bytes, list[GearmanJobRequest]] = field(default_factory=dict)
    #: OPTION_REQs sent when the connection opened and not answered yet; they are answered
    #: before anything sent after them.
    options: int = 0

    def __bool__(self) -> bool:
        return bool(self.accepting or self.running or self.statuses)


class GearmanClient:
    """Submits jobs and waits for them (python-gearman 2.0.2's API)."""

    data_encoder = TextEncoder
    job_class = GearmanJob
    job_request_class = GearmanJobRequest
    #: OPTION_REQ names sent on every new connection before its first request (python-gearman
    #: sends none).
    connection_options: tuple[bytes, ...] = ()

    def __init__(self, host_list: Iterable[Any] | None = None,
                 random_unique_bytes: int = RANDOM_UNIQUE_BYTES,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        """``ssl_context`` (e.g. from ``tls_context``): every connection is TLS."""
        self.random_unique_bytes = random_unique_bytes
        self._pool = Pool(parse_addresses(host_list), connect_timeout, ssl_context)
        self._waiting: dict[Connection, _Waiting] = {}
        self._poller = Poller()

    # ---- python-gearman's public methods ------------------------------------------------------

    def submit_job(self, task: Any, data: Any, unique: Any = None, priority: Any = PRIORITY_NONE,
                   background: bool = False, wait_until_complete: bool = True,
                   max_retries: int = 0, poll_timeout: float | None = None) -> GearmanJobRequest:
        [request] = self.submit_multiple_jobs(
            [dict(task=task, data=data, unique=unique, priority=priority)], background=background,
            wait_until_complete=wait_until_complete, max_retries=max_retries,
            poll_timeout=poll_timeout)
        return request

    def submit_multiple_jobs(self, jobs_to_submit: Sequence[dict[str, Any]],
                             background: bool = False, wait_until_complete: bool = True,
                             max_retries: int = 0, poll_timeout: float | None = None,
                             ) -> list[GearmanJobRequest]:
        """Each of ``jobs_to_submit`` is ``{'task', 'data', 'unique', 'priority'}``."""
        requests = [self._request(job, background, max_retries) for job in jobs_to_submit]
        return self.submit_multiple_requests(requests, wait_until_complete, poll_timeout)

    def submit_multiple_requests(self, job_requests: Sequence[GearmanJobRequest],
                                 wait_until_complete: bool = True,
                                 poll_timeout: float | None = None) -> list[GearmanJobRequest]:
        """Send every request, wait until each is accepted and, if asked, completed, all within
        ``poll_timeout``; then ``timed_out`` says which did not get that far."""
        deadline = None if poll_timeout is None else time.monotonic() + poll_timeout
        for request in job_requests:
            self.send_request(request)
        if wait_until_complete:  # a request still waiting to be accepted is not complete either
            self.wait_until_jobs_completed(job_requests, _remaining(deadline))
        else:
            self.wait_until_jobs_accepted(job_requests, _remaining(deadline))
        return list(job_requests)

    def wait_until_jobs_accepted(self, job_requests: Sequence[GearmanJobRequest],
                                 poll_timeout: float | None = None) -> list[GearmanJobRequest]:
        def pending(request: GearmanJobRequest) -> bool:
            return request.state == JOB_PENDING
        self.poll_until(lambda: not any(map(pending, job_requests)), poll_timeout)
        for request in job_requests:
            request.timed_out = pending(request)
        return list(job_requests)

    def wait_until_jobs_completed(self, job_requests: Sequence[GearmanJobRequest],
                                  poll_timeout: float | None = None) -> list[GearmanJobRequest]:
        def waiting(request: GearmanJobRequest) -> bool:
            return not request.complete and request.state != JOB_UNKNOWN
        self.poll_until(lambda: not any(map(waiting, job_requests)), poll_timeout)
        for request in job_requests:
            request.timed_out = not request.complete
        return list(job_requests)

    def get_job_status(self, current_request: GearmanJobRequest,
                       poll_timeout: float | None = None) -> GearmanJobRequest:
        [request] = self.get_job_statuses([current_request], poll_timeout)
        return request

    def get_job_statuses(self, job_requests: Sequence[GearmanJobRequest],
                         poll_timeout: float | None = None) -> list[GearmanJobRequest]:
        """Ask each request's server for its status (``request.status``)."""
        asked = []
        for request in job_requests:
            request.status["last_time_received"] = request.status.get("time_received")
            conn = request.job.connection
            handle = to_bytes(request.job.handle or b"")
            try:
                conn.send(N.GET_STATUS, handle)
            except (ConnectionLost, AttributeError):
                request.state = JOB_UNKNOWN
                continue
            self._waiting.setdefault(conn, _Waiting()).statuses.setdefault(handle, []).append(
                request)
            asked.append(request)

        def stale(request: GearmanJobRequest) -> bool:
            status = request.status
            return status.get("time_received") == status.get("last_time_received")
        self.poll_until(lambda: not any(stale(r) for r in asked if r.state != JOB_UNKNOWN),
                   poll_timeout)
        for request in job_requests:
            request.timed_out = stale(request)
        return list(job_requests)

    def on_job_packet(self, request: GearmanJobRequest, ptype: int, args: Any) -> None:
        """Override to act on a request's JOB_CREATED, ERROR and WORK_* packets as they arrive
        (the request is already updated); gearman-py prints them the moment libgearman would."""

    def on_request_lost(self, request: GearmanJobRequest) -> None:
        """Override to act on a request whose connection was lost with no retry left (its state
        is back to ``JOB_UNKNOWN``)."""

    def shutdown(self) -> None:
        """Close every connection."""
        self._pool.close()
        self._waiting.clear()

    # ---- sending, polling and what comes back --------------------------------------------------

    def _request(self, job: dict[str, Any], background: bool,
                 max_retries: int) -> GearmanJobRequest:
        unique = job.get("unique") or os.urandom(self.random_unique_bytes).hex()
        gearman_job = self.job_class(None, None, job["task"], unique, job["data"])
        return self.job_request_class(gearman_job, job.get("priority", PRIORITY_NONE),
                                      background, max_retries + 1)

    def send_request(self, request: GearmanJobRequest) -> None:
        """Send ``request`` to its server, or fail over to the next ones, without waiting for
        the reply; servers in their backoff delay are tried last rather than not at all."""
        job = request.job
        unique = to_bytes(job.unique)
        packet = (request.submit_type, to_bytes(job.task), unique, *request.submit_fields,
                  self.data_encoder.encode(job.data))
        order = order_for(unique, len(self._pool))
        errors = []
        for force in (False, True):
            for index in order:
                try:
                    conn = self._pool.connection(index, force)
                    waiting = self._waiting.get(conn)
                    if waiting is None:
                        waiting = self._greet(conn)
                    conn.send(*packet)
                except ConnectionLost as exc:
                    errors.append(exc)
                    continue
                if request.connection_attempts:  # sent before: forget what that server said
                    request.initialize_request()
                request.state = JOB_PENDING
                request.connection_attempts += 1
                job.connection, job.handle = conn, None
                waiting.accepting.append(request)
                return
        raise ServerUnavailable("Found no valid connections: "
                                + "; ".join(dict.fromkeys(map(str, errors))), tuple(errors))

    def _greet(self, conn: Connection) -> _Waiting:
        """Start keeping track of a new connection, sending it ``connection_options`` first."""
        waiting = _Waiting(options=len(self.connection_options))
        if self.connection_options:
            conn.send_raw(b"".join(encode_request(N.OPTION_REQ, name)
                                   for name in self.connection_options))
        self._waiting[conn] = waiting
        return waiting

    def poll_until(self, done: Callable[[], bool], timeout: float | None) -> None:
        """Read from every connection that owes us something until ``done()`` or ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done():
            conns = [conn for conn, waiting in self._waiting.items() if waiting]
            remaining = _remaining(deadline)
            if not conns or remaining == 0.0:
                return
            for conn in self._poller.readable(conns, remaining):
                try:
                    packets = conn.receive(0.0)
                    for packet in packets:
                        self._handle(conn, packet)
                except ConnectionLost:
                    self._lost(conn)

    def _lost(self, conn: Connection) -> None:
        """Requests on ``conn`` that were not done go to the next server while their retries
        allow; status queries on it are answered with JOB_UNKNOWN."""
        self._pool.lost(conn)
        waiting = self._waiting.pop(conn, _Waiting())
        for requests in waiting.statuses.values():
            for request in requests:
                request.state = JOB_UNKNOWN
        for request in [*waiting.accepting, *waiting.running.values()]:
            request.state = JOB_UNKNOWN
            if request.connection_attempts < request.max_connection_attempts:
                try:
                    self.send_request(request)
                except ServerUnavailable:
                    pass
            if request.state == JOB_UNKNOWN:
                self.on_request_lost(request)

    def _handle(self, conn: Connection, packet: Packet) -> None:
        ptype, args = packet
        waiting = self._waiting[conn]
        if waiting.options and ptype in (N.OPTION_RES, N.ERROR):
            waiting.options -= 1  # an option the server refuses just does not apply
        elif ptype == N.JOB_CREATED and waiting.accepting:
            request = waiting.accepting.popleft()
            handle = bytes(args[0])
            request.job.handle = handle.decode("utf-8", "surrogateescape")
            request.state = JOB_CREATED
            if not request.background:
                waiting.running[handle] = request
            self.on_job_packet(request, ptype, args)
        elif ptype == N.ERROR and waiting.accepting:
            request = waiting.accepting.popleft()
            request.state = JOB_FAILED
            request.exception = f"{args[0].decode()}: {args[1].decode()}"
            self.on_job_packet(request, ptype, args)
        elif ptype == N.STATUS_RES:
            for request in waiting.statuses.pop(bytes(args[0]), []):
                request.status = _status(args[0], args[1] == b"1", args[2] == b"1", args[3],
                                         args[4])
        elif ptype in _UPDATES:
            request = waiting.running.get(_handle_of(ptype, args))
            if request is not None:
                _UPDATES[ptype](self, waiting, request, args)
                self.on_job_packet(request, ptype, args)
        else:
            raise ProtocolError(f"{conn.address} sent unexpected packet type {ptype}")

    def _complete(self, waiting: _Waiting, request: GearmanJobRequest, args: Any) -> None:
        request.result = self.data_encoder.decode(args[1])
        request.state = JOB_COMPLETE
        waiting.running.pop(bytes(args[0]), None)

    def _fail(self, waiting: _Waiting, request: GearmanJobRequest, args: Any) -> None:
        request.state = JOB_FAILED
        waiting.running.pop(_handle_of(N.WORK_FAIL, args), None)

    def _exception(self, waiting: _Waiting, request: GearmanJobRequest, args: Any) -> None:
        """The server forwards WORK_EXCEPTION only to a client that set the exceptions option
        (the others get WORK_FAIL), and then forgets the job: for this client it is final."""
        request.exception = self.data_encoder.decode(args[1])
        self._fail(waiting, request, args)

    def _data(self, waiting: _Waiting, request: GearmanJobRequest, args: Any) -> None:
        request.data_updates.append(self.data_encoder.decode(args[1]))

    def _warning(self, waiting: _Waiting, request: GearmanJobRequest, args: Any) -> None:
        request.warning_updates.append(self.data_encoder.decode(args[1]))

    def _work_status(self, waiting: _Waiting, request: GearmanJobRequest, args: Any) -> None:
        request.status = _status(args[0], True, True, args[1], args[2])


_UPDATES: dict[int, Callable[[GearmanClient, _Waiting, GearmanJobRequest, Any], None]] = {
    N.WORK_COMPLETE: GearmanClient._complete,
    N.WORK_FAIL: GearmanClient._fail,
    N.WORK_EXCEPTION: GearmanClient._exception,
    N.WORK_DATA: GearmanClient._data,
    N.WORK_WARNING: GearmanClient._warning,
    N.WORK_STATUS: GearmanClient._work_status,
}


def _handle_of(ptype: int, args: Any) -> bytes:
    """The handle a WORK_* packet is about. gearmand sends a WORK_EXCEPTION to a client without
    the exceptions option as a WORK_FAIL whose handle ends in a NUL; libgearman reads handles
    as C strings, so that NUL is not part of it."""
    handle = bytes(args[0])
    if ptype == N.WORK_FAIL and handle.endswith(b"\0"):
        return handle[:-1]
    return handle


def _status(handle: bytes, known: bool, running: bool, numerator: bytes,
            denominator: bytes) -> dict[str, Any]:
    """python-gearman's status dict; numbers read as gearmand reads them, so an empty field
    (as some servers send) is 0 instead of a crash."""
    return {"handle": bytes(handle).decode("utf-8", "surrogateescape"), "known": known,
            "running": running, "numerator": atoi(numerator), "denominator": atoi(denominator),
            "time_received": time.time()}


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
