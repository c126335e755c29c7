"""Shared tests for the python-gearman forks: pygearman, python3-gearman and py3gearman.

All three keep python-gearman's API (GearmanClient, GearmanWorker, GearmanAdminClient) and wire
behaviour: the worker sends SET_CLIENT_ID?/RESET_ABILITIES, CAN_DO, then PRE_SLEEP *before any
grab*, and GRAB_JOB_UNIQ once woken by NOOP; the admin client uses text ``status``/``version``/
``workers`` and ECHO_REQ for ``ping_server``. A test module subclasses
:class:`PythonGearmanFamilyTests` and sets the class attributes describing its fork's quirks.
Workers run in threads of the test process; every wait is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, ClassVar

import pytest

from tests.support.servers import ServerProcess

from ._util import (ROUND_TRIP_TIMEOUT, JobLog, as_text, join_thread, require_module, reverse,
                    unique_name, wait_for_worker, wait_until)

PRIORITIES = {"normal": None, "high": "HIGH", "low": "LOW"}


class ThreadedWorker:
    """A library GearmanWorker polling in a daemon thread, following the job contract."""

    def __init__(self, lib: ModuleType, address: str, function: Any, log: JobLog) -> None:
        self.stop_event = threading.Event()
        self.log = log
        self.errors: list[BaseException] = []
        stop_event = self.stop_event

        class Worker(lib.GearmanWorker):  # type: ignore[name-defined,misc]
            def after_poll(self, any_activity: bool) -> bool:
                return not stop_event.is_set()

        self.worker = Worker([address])
        self.worker.register_task(function, self._run_job)
        self.thread = threading.Thread(target=self._work, name=f"worker-{as_text(function)}",
                                       daemon=True)
        self.thread.start()

    def _work(self) -> None:
        try:
            self.worker.work(poll_timeout=0.1)
        except BaseException as exc:  # surfaced by stop()
            self.errors.append(exc)

    def _run_job(self, worker: Any, job: Any) -> Any:
        data = job.data
        payload = as_text(data)
        if payload.startswith("hold:"):
            worker.send_job_status(job, 1, 4)
            self.log.hold()
        elif payload.startswith("fail:"):
            raise RuntimeError(payload)  # python-gearman answers an exception with WORK_FAIL
        elif payload.startswith("data:"):
            worker.send_job_data(job, "d1")
            worker.send_job_warning(job, "w1")
            worker.send_job_status(job, 2, 3)
        self.log.record(payload)
        return data[::-1]

    def stop(self) -> None:
        """Release held jobs, stop polling and join the thread (bounded)."""
        self.log.release()
        self.stop_event.set()
        join_thread(self.thread, 5)
        try:
            self.worker.shutdown()
        except Exception:
            pass
        if self.errors:
            raise self.errors[0]


class PythonGearmanFamilyTests:
    """Round trips every python-gearman fork supports; subclass and set the class attributes."""

    module_name: ClassVar[str]       # import name
    pip_name: ClassVar[str]          # PyPI name
    bytes_names: ClassVar[bool]      # task names must be bytes (pygearman) or str (the others)
    prefix: ClassVar[str]            # function-name prefix, unique per library

    # ----------------------------------------------------------------- fixtures
    @pytest.fixture
    def lib(self) -> ModuleType:
        """The client library module."""
        return require_module(self.module_name, self.pip_name)

    @pytest.fixture
    def address(self, server: ServerProcess) -> str:
        """``host:port`` as python-gearman wants it."""
        return f"127.0.0.1:{server.port}"

    def name(self, text: str) -> Any:
        """A task name in the type this library requires."""
        return text.encode() if self.bytes_names else text

    @pytest.fixture
    def start_worker(self, lib: ModuleType, address: str,
                     server: ServerProcess) -> Iterator[Callable[..., ThreadedWorker]]:
        """Factory for threaded workers; all are stopped at teardown."""
        workers: list[ThreadedWorker] = []

        def start(function: str, log: JobLog | None = None, wait: bool = True) -> ThreadedWorker:
            worker = ThreadedWorker(lib, address, self.name(function), log or JobLog())
            workers.append(worker)
            if wait:
                wait_for_worker(server.address, function)
            return worker

        yield start
        for worker in workers:
            worker.stop()

    @pytest.fixture
    def client(self, lib: ModuleType, address: str) -> Iterator[Any]:
        """A GearmanClient connected to the server under test."""
        client = lib.GearmanClient([address])
        yield client
        client.shutdown()

    @pytest.fixture
    def admin(self, lib: ModuleType, address: str) -> Iterator[Any]:
        """A GearmanAdminClient with a bounded poll timeout."""
        admin = lib.GearmanAdminClient([address], poll_timeout=ROUND_TRIP_TIMEOUT)
        yield admin
        admin.shutdown()

    # ----------------------------------------------------------------- helpers
    def submit(self, lib: ModuleType, client: Any, function: str, payload: str, priority: str,
               background: bool) -> Any:
        """submit_job with explicit background (py3gearman defaults to background=True)."""
        request = client.submit_job(self.name(function), payload, priority=PRIORITIES[priority],
                                    background=background, wait_until_complete=not background,
                                    poll_timeout=ROUND_TRIP_TIMEOUT)
        expected = lib.JOB_CREATED if background else lib.JOB_COMPLETE
        assert request.state == expected, (request.state, request)
        return request

    def status(self, client: Any, request: Any) -> dict[str, Any]:
        """GET_STATUS via get_job_status; returns known/running/numerator/denominator."""
        request.status = {}
        client.get_job_status(request, poll_timeout=ROUND_TRIP_TIMEOUT)
        assert request.status, "no STATUS_RES received"
        return {key: request.status[key] for key in ("known", "running", "numerator", "denominator")}

    # ----------------------------------------------------------------- tests
    @pytest.mark.parametrize("priority", list(PRIORITIES))
    def test_foreground_job(self, lib: ModuleType, client: Any,
                            start_worker: Callable[..., ThreadedWorker], priority: str) -> None:
        """SUBMIT_JOB / _HIGH / _LOW complete with the worker's result."""
        function = unique_name(f"{self.prefix}_fg")
        start_worker(function)
        payload = f"{self.prefix} {priority} payload"
        request = self.submit(lib, client, function, payload, priority, background=False)
        assert as_text(request.result) == reverse(payload)

    def test_background_jobs_run(self, lib: ModuleType, client: Any,
                                 start_worker: Callable[..., ThreadedWorker]) -> None:
        """SUBMIT_JOB_BG / _HIGH_BG / _LOW_BG get a handle and the worker runs each job."""
        function = unique_name(f"{self.prefix}_bg")
        worker = start_worker(function)
        payloads = {priority: f"bg-{priority}" for priority in PRIORITIES}
        for priority, payload in payloads.items():
            request = self.submit(lib, client, function, payload, priority, background=True)
            assert as_text(request.job.handle).startswith("H:")
        worker.log.wait_done(payloads.values())

    def test_background_priority_order(self, lib: ModuleType, client: Any,
                                       start_worker: Callable[..., ThreadedWorker]) -> None:
        """Jobs queued before the worker (which sends PRE_SLEEP first and needs a NOOP for
        them) are handed out high, normal, low."""
        function = unique_name(f"{self.prefix}_order")
        order = ["low-1", "normal-1", "high-1", "low-2", "normal-2", "high-2"]
        for payload in order:
            self.submit(lib, client, function, payload, payload.split("-")[0], background=True)
        worker = start_worker(function, wait=False)
        done = worker.log.wait_done(order)
        assert done == ["high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"]

    def test_job_status_running_and_finished(self, lib: ModuleType, client: Any,
                                             start_worker: Callable[..., ThreadedWorker]) -> None:
        """GET_STATUS: running job is known/running 1/4 (ints); once finished it is unknown 0/0."""
        function = unique_name(f"{self.prefix}_status")
        worker = start_worker(function)
        request = self.submit(lib, client, function, "hold:py", "normal", background=True)
        assert worker.log.holding.wait(ROUND_TRIP_TIMEOUT), "worker never got the job"
        wait_until(lambda: self.status(client, request) == {
            "known": True, "running": True, "numerator": 1, "denominator": 4},
            what="STATUS_RES known running 1/4")
        worker.log.release()
        worker.log.wait_done(["hold:py"])
        wait_until(lambda: self.status(client, request) == {
            "known": False, "running": False, "numerator": 0, "denominator": 0},
            what="finished job to be unknown")

    def test_job_status_queued(self, lib: ModuleType, client: Any) -> None:
        """GET_STATUS of a queued job: known, not running, numerator/denominator parse as 0."""
        function = unique_name(f"{self.prefix}_idle")
        request = self.submit(lib, client, function, "nobody runs me", "normal", background=True)
        assert self.status(client, request) == {
            "known": True, "running": False, "numerator": 0, "denominator": 0}

    def test_foreground_updates(self, lib: ModuleType, client: Any,
                                start_worker: Callable[..., ThreadedWorker]) -> None:
        """WORK_DATA, WORK_WARNING and WORK_STATUS are relayed to a foreground client."""
        function = unique_name(f"{self.prefix}_updates")
        start_worker(function)
        request = self.submit(lib, client, function, "data:py", "normal", background=False)
        assert as_text(request.result) == reverse("data:py")
        assert [as_text(d) for d in request.data_updates] == ["d1"]
        assert [as_text(w) for w in request.warning_updates] == ["w1"]
        assert (request.status["numerator"], request.status["denominator"]) == (2, 3)

    def test_work_fail(self, lib: ModuleType, client: Any,
                       start_worker: Callable[..., ThreadedWorker]) -> None:
        """A worker exception is sent as WORK_FAIL; the foreground request ends FAILED."""
        function = unique_name(f"{self.prefix}_fail")
        start_worker(function)
        request = client.submit_job(self.name(function), "fail:py", background=False,
                                    poll_timeout=ROUND_TRIP_TIMEOUT)
        assert request.state == lib.JOB_FAILED

    def test_ping_server(self, admin: Any) -> None:
        """ping_server sends ECHO_REQ and checks the echoed payload; returns the round trip."""
        elapsed = admin.ping_server()
        assert isinstance(elapsed, float) and 0 <= elapsed < ROUND_TRIP_TIMEOUT

    def test_admin_status_workers_version(self, lib: ModuleType, client: Any, admin: Any,
                                          start_worker: Callable[..., ThreadedWorker]) -> None:
        """Text ``status``, ``workers`` and ``version`` parse into the library's structures."""
        busy, idle = unique_name(f"{self.prefix}_adm"), unique_name(f"{self.prefix}_admidle")
        start_worker(busy)
        self.submit(lib, client, idle, "queued", "normal", background=True)
        status = {as_text(row["task"]): row for row in admin.get_status()}
        assert (status[busy]["queued"], status[busy]["running"], status[busy]["workers"]) == (0, 0, 1)
        assert (status[idle]["queued"], status[idle]["running"], status[idle]["workers"]) == (1, 0, 0)
        workers = [row for row in admin.get_workers()
                   if busy in [as_text(task) for task in row["tasks"]]]
        assert len(workers) == 1 and as_text(workers[0]["ip"]) == "127.0.0.1", workers
        assert as_text(admin.get_version()).startswith("OK ")
