"""``GearmanWorker``: python-gearman 2.0.2's worker, registered on every server at once.

Per server the worker is awake (it may have jobs there) or asleep (it sent PRE_SLEEP and waits
for NOOP), so an idle worker sends nothing: no polling. It holds one job at a time, so at most
one GRAB is outstanding, taken from the awake servers in turn.

After a job the worker either sleeps at once (the job's last packet and PRE_SLEEP in one write,
as python-gearman sleeps after each job; the server sends NOOP if it has more) or grabs again
(the last packet and GRAB in one write). Sleeping costs the least when jobs come one at a time
(two writes and two wake-ups per job, against three through NO_JOB); grabbing when jobs wait in
the queue (one of each, against two through NOOP). So the worker grabs again while its grabs
after a job get jobs, sleeps after a job once one got NO_JOB, and tries a grab again every
``PROBE_EVERY`` jobs to notice a queue building up. A server that goes away is
reconnected with the pool's backoff and registered again; the others keep working meanwhile.
"""

from __future__ import annotations

import ssl
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from gearmand_py.client.connection import CONNECT_TIMEOUT, Connection, Poller
from gearmand_py.client.errors import ConnectionLost, ProtocolError
from gearmand_py.client.jobs import GearmanJob, TextEncoder, to_bytes
from gearmand_py.client.pool import Pool, StillDown
from gearmand_py.client.servers import Address, parse_addresses
from gearmand_py.protocol.codec import encode_request
from gearmand_py.protocol.events import Packet
from gearmand_py.protocol.packets import NUMBERS

POLL_TIMEOUT_IN_SECONDS = 60.0
PROBE_EVERY = 8
N = NUMBERS
Task = Callable[["GearmanWorker", GearmanJob], Any]


class GearmanWorker:
    """Runs registered tasks for jobs from every server (python-gearman 2.0.2's API)."""

    data_encoder = TextEncoder
    job_class = GearmanJob
    #: GRAB_JOB_UNIQ, as python-gearman; GRAB_JOB_ALL also gets a reduce job's reducer.
    grab_type = N.GRAB_JOB_UNIQ

    def __init__(self, host_list: Iterable[Any] | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        """``ssl_context`` (e.g. from ``tls_context``): every connection is TLS."""
        self._pool = Pool(parse_addresses(host_list), connect_timeout, ssl_context)
        self.worker_abilities: dict[Any, Task] = {}
        self.worker_client_id: Any = None
        #: Connections registered so far, and whether each may have a job for us.
        self._awake: dict[Connection, bool] = {}
        self._poller = Poller()
        #: Registered tasks by wire name, for the task a JOB_ASSIGN names.
        self._by_name: dict[bytes, Any] = {}
        self._grabbing: Connection | None = None
        self._turn = 0
        #: While a job from this connection runs: its final packet (WORK_COMPLETE, WORK_FAIL,
        #: WORK_EXCEPTION), held to go out with PRE_SLEEP or the next GRAB.
        self._running_on: Connection | None = None
        self._final: list[bytes] = []
        #: A finished job's final packets waiting for the next GRAB, and on which connection.
        self._unsent: tuple[Connection, bytes] | None = None
        #: Whether grabbing right after a job gets jobs; whether the outstanding GRAB is one.
        self._streak = True
        self._grab_after_job = False
        self._jobs_since_probe = 0

    # ---- python-gearman's public methods ------------------------------------------------------

    def register_task(self, task: Any, callback_function: Task) -> Any:
        """``callback_function(worker, job)`` returns the job's result."""
        self.worker_abilities[task] = callback_function
        self._by_name[to_bytes(task)] = task
        self._tell_all(encode_request(N.CAN_DO, to_bytes(task)))
        return task

    def unregister_task(self, task: Any) -> Any:
        self.worker_abilities.pop(task, None)
        self._by_name.pop(to_bytes(task), None)
        self._tell_all(encode_request(N.CANT_DO, to_bytes(task)))
        return task

    def set_client_id(self, client_id: Any) -> Any:
        self.worker_client_id = client_id
        self._tell_all(encode_request(N.SET_CLIENT_ID, to_bytes(client_id)))
        return client_id

    def work(self, poll_timeout: float = POLL_TIMEOUT_IN_SECONDS) -> None:
        """Take and run jobs until ``after_poll`` or ``after_job`` returns False.
        ``after_poll(any_activity)`` is called after each batch of packets, or after
        ``poll_timeout`` seconds with none."""
        idle_since = time.monotonic()
        pool, awake = self._pool, self._awake
        while True:
            # Connecting and grabbing when there is something to do; between the jobs of a
            # steady stream there is not.
            retry = None
            if len(awake) < len(pool):
                self._connect()
                retry = pool.next_retry()
            if self._grabbing is None or self._unsent is not None:
                self._grab()
            wait = poll_timeout - (time.monotonic() - idle_since)
            ready = self._poller.readable(list(awake), max(0.0, wait if retry is None
                                                                 else min(wait, retry)))
            if not ready and time.monotonic() - idle_since < poll_timeout:
                continue  # woken to reconnect, not a poll timeout
            ran_job = False
            for conn in ready:
                ran_job |= self._read(conn)
            idle_since = time.monotonic()
            if not self.after_poll(bool(ready)):
                break
            if ran_job and not self.after_job():
                break
        self.shutdown()

    @property
    def holding_job(self) -> bool:
        """Whether a job is running (its task is on the stack); a stop signal handler reads it
        to let the job finish."""
        return self._running_on is not None

    def after_poll(self, any_activity: bool) -> bool:
        """Override: return False to leave ``work``."""
        return True

    def after_job(self) -> bool:
        """Override: called after each job; return False to leave ``work``."""
        return True

    def on_server_error(self, address: Address, error: ConnectionLost) -> None:
        """Override: a server could not be reached, refused the TLS handshake or our
        certificate, or its connection was lost; ``work`` tries it again after its backoff
        delay and meanwhile works with the others."""

    def send_job_status(self, current_job: GearmanJob, numerator: int | float,
                        denominator: int | float, poll_timeout: float | None = None) -> None:
        current_job.connection.send(N.WORK_STATUS, to_bytes(current_job.handle),
                                    str(numerator).encode(), str(denominator).encode())

    def send_job_data(self, current_job: GearmanJob, data: Any,
                      poll_timeout: float | None = None) -> None:
        self._send_job(N.WORK_DATA, current_job, data)

    def send_job_warning(self, current_job: GearmanJob, data: Any,
                         poll_timeout: float | None = None) -> None:
        self._send_job(N.WORK_WARNING, current_job, data)

    def send_job_complete(self, current_job: GearmanJob, data: Any,
                          poll_timeout: float | None = None) -> None:
        self._send_job(N.WORK_COMPLETE, current_job, data)

    def send_job_failure(self, current_job: GearmanJob, poll_timeout: float | None = None) -> None:
        self._send_final(current_job.connection,
                         encode_request(N.WORK_FAIL, to_bytes(current_job.handle)))

    def send_job_exception(self, current_job: GearmanJob, data: Any,
                           poll_timeout: float | None = None) -> None:
        """WORK_EXCEPTION then WORK_FAIL, as python-gearman sends them."""
        self._send_job(N.WORK_EXCEPTION, current_job, data)
        self.send_job_failure(current_job)

    def on_job_execute(self, current_job: GearmanJob) -> bool:
        try:
            result = self.worker_abilities[current_job.task](self, current_job)
        except Exception:
            return self.on_job_exception(current_job, sys.exc_info())
        return self.on_job_complete(current_job, result)

    def on_job_exception(self, current_job: GearmanJob, exc_info: Any) -> bool:
        self.send_job_failure(current_job)
        return False

    def on_job_complete(self, current_job: GearmanJob, job_result: Any) -> bool:
        self.send_job_complete(current_job, job_result)
        return True

    def shutdown(self) -> None:
        """Send a finished job's result if it is still held, then close every connection."""
        if self._unsent is not None:
            self._send_or_lose(*self._unsent)
            self._unsent = None
        self._pool.close()
        self._awake.clear()
        self._grabbing = None

    # ---- connections, grabbing and packets -----------------------------------------------------

    def _registration(self) -> bytes:
        packets = [encode_request(N.RESET_ABILITIES)]
        if self.worker_client_id is not None:
            packets.append(encode_request(N.SET_CLIENT_ID, to_bytes(self.worker_client_id)))
        packets += [encode_request(N.CAN_DO, to_bytes(task)) for task in self.worker_abilities]
        return b"".join(packets)

    def _connect(self) -> None:
        """Open and register every server that is not connected and not in its backoff."""
        for index in range(len(self._pool)):
            try:
                conn = self._pool.connection(index)
            except StillDown:
                continue
            except ConnectionLost as exc:
                self.on_server_error(self._pool.addresses[index], exc)
                continue
            if conn not in self._awake:
                try:
                    conn.send_raw(self._registration())
                except ConnectionLost as exc:
                    self._lost(conn, exc)
                    continue
                self._awake[conn] = True

    def _tell_all(self, packet: bytes) -> None:
        for conn in list(self._awake):
            try:
                conn.send_raw(packet)
            except ConnectionLost as exc:
                self._lost(conn, exc)

    def _grab(self) -> None:
        """With no GRAB outstanding, send one to the next awake server, in one write with a
        finished job's final packets when they go to the same server; send those anyway."""
        unsent, self._unsent = self._unsent, None
        awake = [conn for conn, is_awake in self._awake.items() if is_awake]
        conn = None
        if self._grabbing is None and awake:
            self._turn += 1
            conn = awake[self._turn % len(awake)]
        head = b""
        if unsent is not None:
            if unsent[0] is conn:
                head = unsent[1]
            else:
                self._send_or_lose(*unsent)
        self._grab_after_job = unsent is not None and conn is not None
        if conn is not None and self._send_or_lose(conn, head + encode_request(self.grab_type)):
            self._grabbing = conn

    def _send_or_lose(self, conn: Connection, data: bytes) -> bool:
        try:
            conn.send_raw(data)
            return True
        except ConnectionLost as exc:
            self._lost(conn, exc)
            return False

    def _lost(self, conn: Connection, error: ConnectionLost) -> None:
        self.on_server_error(conn.address, error)
        if self._unsent is not None and self._unsent[0] is conn:
            self._unsent = None
        self._pool.lost(conn)
        self._awake.pop(conn, None)
        if self._grabbing is conn:
            self._grabbing = None

    def _read(self, conn: Connection) -> bool:
        """Handle what ``conn`` sent; True if a job ran."""
        ran_job = False
        try:
            for packet in conn.receive(0.0):
                ran_job |= self._handle(conn, packet)
        except ConnectionLost as exc:
            self._lost(conn, exc)
        return ran_job

    def _handle(self, conn: Connection, packet: Packet) -> bool:
        ptype, args = packet
        if ptype == N.NOOP:
            self._awake[conn] = True
        elif ptype == N.NO_JOB:
            self._grabbing = None
            self._awake[conn] = False
            if self._grab_after_job:
                self._streak = False
            conn.send(N.PRE_SLEEP)
        elif ptype in (N.JOB_ASSIGN_UNIQ, N.JOB_ASSIGN_ALL):
            self._grabbing = None
            if self._grab_after_job:
                self._streak = True
            handle, task, unique, *reducer, data = args
            job = self.job_class(conn, TextEncoder.decode(handle), self._task(task),
                                 TextEncoder.decode(unique), self.data_encoder.decode(data),
                                 *map(TextEncoder.decode, reducer))
            self._running_on = conn
            try:
                self.on_job_execute(job)
            finally:
                self._running_on = None
                final, self._final = b"".join(self._final), []
                self._jobs_since_probe += 1
                if self._streak or self._jobs_since_probe >= PROBE_EVERY:
                    self._jobs_since_probe = 0
                    self._unsent = (conn, final)  # goes out with the next GRAB
                else:
                    conn.send_raw(final + encode_request(N.PRE_SLEEP))
                    self._awake[conn] = False
            return True
        elif ptype != N.ERROR:
            raise ProtocolError(f"{conn.address} sent unexpected packet type {ptype}")
        return False

    def _task(self, name: bytes) -> Any:
        """The registered task (``str`` or ``bytes``, as it was registered) named ``name``."""
        task = self._by_name.get(bytes(name))
        return TextEncoder.decode(name) if task is None else task

    def _send_job(self, ptype: int, current_job: GearmanJob, data: Any) -> None:
        packet = encode_request(ptype, to_bytes(current_job.handle),
                                self.data_encoder.encode(data))
        if ptype in _FINAL:
            self._send_final(current_job.connection, packet)
        else:
            current_job.connection.send_raw(packet)

    def _send_final(self, conn: Connection, packet: bytes) -> None:
        """A job's last packet: held while the job's own execution is still on the stack, to go
        out with PRE_SLEEP; sent at once otherwise."""
        if conn is self._running_on:
            self._final.append(packet)
        else:
            conn.send_raw(packet)


_FINAL = frozenset({N.WORK_COMPLETE, N.WORK_EXCEPTION})
