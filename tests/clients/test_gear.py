"""OpenStack/OpenDev ``gear`` 0.16.0: gear.Client, gear.Worker and the connection's admin/echo.

The worker sends SET_CLIENT_ID, CAN_DO, GRAB_JOB_UNIQ, and PRE_SLEEP after NO_JOB. gear has no
get-status call, so GET_STATUS is sent as a raw ``gear.Packet`` and the library's own
handleStatusRes fills ``job.known/running/numerator/denominator`` (bytes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from ._util import (ROUND_TRIP_TIMEOUT, JobLog, join_thread, require_module, reverse,
                    unique_name, wait_for_worker, wait_until)


@pytest.fixture(scope="module")
def gear() -> ModuleType:
    """The gear module."""
    return require_module("gear", "gear")


class GearWorker:
    """A gear.Worker whose getJob loop runs in a thread, following the job contract."""

    def __init__(self, gear: ModuleType, server: ServerProcess, function: str, log: JobLog) -> None:
        self.gear = gear
        self.log = log
        self.worker = gear.Worker(f"w-{function}")
        self.worker.addServer("127.0.0.1", server.port)
        self.worker.waitForServer(timeout=ROUND_TRIP_TIMEOUT)
        self.worker.registerFunction(function)
        self.thread = threading.Thread(target=self._loop, name=f"gear-{function}", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            try:
                job = self.worker.getJob()
            except self.gear.InterruptedError:
                return
            payload = job.arguments.decode()
            if payload.startswith("hold:"):
                job.sendWorkStatus(1, 4)
                self.log.hold()
            elif payload.startswith("fail:"):
                job.sendWorkFail()
                continue
            elif payload.startswith("exc:"):
                job.sendWorkException(b"boom:" + payload[4:].encode())
                continue
            elif payload.startswith("data:"):
                job.sendWorkData(b"d1")
                job.sendWorkWarning(b"w1")
                job.sendWorkStatus(2, 3)
            self.log.record(payload)
            job.sendWorkComplete(payload[::-1].encode())

    def stop(self) -> None:
        """Release held jobs, shut the worker down and join its thread (bounded)."""
        self.log.release()
        # gear's shutdown stops its poll thread first and then waits up to 5 s for any
        # connection still in GRAB_WAIT, so let outstanding GRAB_JOB_UNIQs be answered first.
        wait_until(lambda: all(conn.state != "GRAB_WAIT" for conn in self.worker.active_connections),
                   timeout=5, what="the worker's GRAB_JOB_UNIQ to be answered")
        self.worker.shutdown()
        join_thread(self.thread, 5)


@pytest.fixture
def start_worker(gear: ModuleType, server: ServerProcess) -> Iterator[Callable[..., GearWorker]]:
    """Factory for threaded gear workers; all are stopped at teardown."""
    workers: list[GearWorker] = []

    def start(function: str, wait: bool = True) -> GearWorker:
        worker = GearWorker(gear, server, function, JobLog())
        workers.append(worker)
        if wait:
            wait_for_worker(server.address, function)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def client(gear: ModuleType, server: ServerProcess) -> Iterator[Any]:
    """A connected gear.Client."""
    client = gear.Client("gear-test-client")
    client.addServer("127.0.0.1", server.port)
    client.waitForServer(timeout=ROUND_TRIP_TIMEOUT)
    yield client
    client.shutdown()


pytestmark = pytest.mark.filterwarnings("ignore:notifyAll.. is deprecated:DeprecationWarning")

PRECEDENCE = {"normal": "PRECEDENCE_NORMAL", "high": "PRECEDENCE_HIGH", "low": "PRECEDENCE_LOW"}


def submit(gear: ModuleType, client: Any, function: str, payload: str, priority: str = "normal",
           background: bool = False, unique: str | None = None) -> Any:
    """Submit a job; for foreground jobs wait (bounded) until it is complete."""
    job = gear.Job(function, payload.encode(), unique=unique)
    client.submitJob(job, background=background, precedence=getattr(gear, PRECEDENCE[priority]),
                     timeout=ROUND_TRIP_TIMEOUT)
    assert job.handle and job.handle.startswith(b"H:"), job
    if not background:
        wait_until(lambda: job.complete, what=f"foreground job {payload!r} to complete")
    return job


def get_status(gear: ModuleType, client: Any, job: Any) -> tuple[Any, ...]:
    """Send GET_STATUS for ``job`` and wait for the library to apply the STATUS_RES."""
    job.known = None
    packet = gear.Packet(gear.constants.REQ, gear.constants.GET_STATUS, job.handle)
    client.sendPacket(packet, job.connection)
    wait_until(lambda: job.known is not None, what="STATUS_RES")
    return job.known, job.running, job.numerator, job.denominator


@pytest.mark.parametrize("priority", list(PRECEDENCE))
def test_gear_foreground_job(gear: ModuleType, client: Any,
                             start_worker: Callable[..., GearWorker], priority: str) -> None:
    """SUBMIT_JOB / _HIGH / _LOW complete with the worker's result."""
    function = unique_name("gear_fg")
    start_worker(function)
    payload = f"gear {priority} payload"
    job = submit(gear, client, function, payload, priority)
    assert not job.failure and b"".join(job.data) == reverse(payload).encode()


def test_gear_background_jobs_run(gear: ModuleType, client: Any,
                                  start_worker: Callable[..., GearWorker]) -> None:
    """SUBMIT_JOB_BG / _HIGH_BG / _LOW_BG get a handle and the worker runs each job."""
    function = unique_name("gear_bg")
    worker = start_worker(function)
    payloads = {priority: f"bg-{priority}" for priority in PRECEDENCE}
    for priority, payload in payloads.items():
        submit(gear, client, function, payload, priority, background=True)
    worker.log.wait_done(payloads.values())


def test_gear_background_priority_order(gear: ModuleType, client: Any,
                                        start_worker: Callable[..., GearWorker]) -> None:
    """Jobs queued before the worker arrives are handed out high, normal, low."""
    function = unique_name("gear_order")
    order = ["low-1", "normal-1", "high-1", "low-2", "normal-2", "high-2"]
    for payload in order:
        submit(gear, client, function, payload, payload.split("-")[0], background=True)
    worker = start_worker(function, wait=False)
    assert worker.log.wait_done(order) == ["high-1", "high-2", "normal-1", "normal-2",
                                           "low-1", "low-2"]


def test_gear_job_status(gear: ModuleType, client: Any,
                         start_worker: Callable[..., GearWorker]) -> None:
    """GET_STATUS: running 1/4; after completion unknown with "0"/"0"."""
    function = unique_name("gear_status")
    worker = start_worker(function)
    job = submit(gear, client, function, "hold:gear", background=True)
    assert worker.log.holding.wait(ROUND_TRIP_TIMEOUT)
    wait_until(lambda: get_status(gear, client, job) == (True, True, b"1", b"4"),
               what="STATUS_RES known running 1/4")
    worker.log.release()
    worker.log.wait_done(["hold:gear"])
    wait_until(lambda: get_status(gear, client, job) == (False, False, b"0", b"0"),
               what="finished job to be unknown")


def test_gear_status_of_queued_job(gear: ModuleType, client: Any) -> None:
    """GET_STATUS of a queued job: known, not running, numerator and denominator b"0"."""
    job = submit(gear, client, unique_name("gear_idle"), "nobody runs me", background=True)
    assert get_status(gear, client, job) == (True, False, b"0", b"0")


def test_gear_echo(client: Any) -> None:
    """ECHO_REQ gets an ECHO_RES carrying the same payload.

    gear's own ``Connection.echo()`` cannot succeed on Python 3: its handleEchoRes calls
    ``notifyAll()`` on a Condition it never acquired (RuntimeError in the poll thread), so echo()
    times out even against C gearmand. The test therefore registers the waiter the way echo()
    does and checks that handleEchoRes found and consumed it, which needs the exact payload back.
    """
    conn = client.getConnection()
    payload = b"gear echo " + unique_name("payload").encode()
    with conn.echo_lock:
        conn.echo_conditions[payload] = threading.Condition()
    conn.sendEchoReq(payload)
    wait_until(lambda: payload not in conn.echo_conditions, what="ECHO_RES with the same payload")


def test_gear_updates_fail_and_exception(gear: ModuleType, client: Any,
                                         start_worker: Callable[..., GearWorker]) -> None:
    """WORK_DATA/WARNING/STATUS are relayed; WORK_FAIL fails the job; after OPTION_REQ
    "exceptions" (answered with OPTION_RES) WORK_EXCEPTION is relayed too."""
    function = unique_name("gear_updates")
    start_worker(function)
    job = submit(gear, client, function, "data:gear")
    assert job.data == [b"d1", b"w1", reverse("data:gear").encode()]  # gear appends warnings to data
    assert job.warning and (job.numerator, job.denominator) == (b"2", b"3")
    job = submit(gear, client, function, "fail:gear")
    assert job.failure and job.complete
    assert client.setOption("exceptions", timeout=ROUND_TRIP_TIMEOUT) is True
    job = submit(gear, client, function, "exc:gear")
    assert job.exception == b"boom:gear" and job.failure


def test_gear_admin_requests(gear: ModuleType, client: Any,
                             start_worker: Callable[..., GearWorker]) -> None:
    """Text ``status``, ``workers``, ``version``, ``show jobs`` and ``cancel job``."""
    busy, idle = unique_name("gear_adm"), unique_name("gear_admidle")
    start_worker(busy)
    queued = submit(gear, client, idle, "queued", background=True)
    conn = client.getConnection()

    def admin(request: Any) -> list[str]:
        conn.sendAdminRequest(request, timeout=ROUND_TRIP_TIMEOUT)
        return request.response.decode().splitlines()

    status = admin(gear.StatusAdminRequest())
    assert f"{busy}\t0\t0\t1" in status and f"{idle}\t1\t0\t0" in status and status[-1] == "."
    workers = admin(gear.WorkersAdminRequest())
    assert any(line.endswith(f" : {busy}") and "w-" + busy in line for line in workers), workers
    version = admin(gear.VersionAdminRequest())
    assert len(version) == 1 and version[0].startswith("OK "), version
    jobs = admin(gear.ShowJobsAdminRequest())
    assert any(line.split("\t")[0] == queued.handle.decode() for line in jobs), jobs
    assert admin(gear.CancelJobAdminRequest(queued.handle)) == ["OK"]
    # C gearmand only marks the job canceled ("show jobs" columns: handle, retries, canceled,
    # enabled): it stays known and queued until a worker for it appears, then it is dropped
    # without being run.
    jobs = admin(gear.ShowJobsAdminRequest())
    assert f"{queued.handle.decode()}\t0\t1\t0" in jobs, jobs
    late = start_worker(idle)
    wait_until(lambda: f"{idle}\t0\t0\t1" in admin(gear.StatusAdminRequest()),
               what="the canceled job to be dropped")
    assert get_status(gear, client, queued) == (False, False, b"0", b"0")
    assert late.log.done == []
