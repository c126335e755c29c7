"""aiogear 0.2.6: asyncio Client, Worker and Admin protocols.

The worker sends CAN_DO, then PRE_SLEEP *before any grab*, waits for NOOP, then grabs with its
``grab_type`` (GRAB_JOB by default; GRAB_JOB_UNIQ is tested too). Quirks respected here:

* the default unique is 16 random bytes, which a GRAB_JOB_UNIQ worker cannot utf-8-decode, so
  every submit passes an ascii ``uuid=``;
* responses are matched to waiters by packet type only (not by handle), and every submit, even a
  background one, registers a WORK_COMPLETE waiter; so each scenario uses its own client(s);
* with ``grab_type=GRAB_JOB_ALL`` it waits for JOB_ASSIGN_ALL, but C gearmand answers
  JOB_ASSIGN_UNIQ, so that mode hangs against the reference and is not tested;
* ``Worker.shutdown()`` calls ``asyncio.wait(..., loop=)`` (removed in 3.10) when jobs are
  running, so workers are stopped by cancelling their task and closing the transport;
* ``Admin.maxqueue(fn, int)`` raises; only the three-value (per-priority) form works;
* aiogear has no ECHO call.

Each test runs one coroutine under ``asyncio.wait_for`` so a silent server fails, not hangs;
its connections are closed afterwards whatever happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest

from tests.support.servers import ServerProcess

from ._util import ROUND_TRIP_TIMEOUT, require_module, reverse, unique_name

SUBMIT = {"normal": "submit_job", "high": "submit_job_high", "low": "submit_job_low"}
SUBMIT_BG = {"normal": "submit_job_bg", "high": "submit_job_high_bg", "low": "submit_job_low_bg"}
GRAB_TYPES = ["GRAB_JOB", "GRAB_JOB_UNIQ"]


@pytest.fixture(scope="module")
def aiogear() -> ModuleType:
    """The aiogear package (with its worker, client, admin and packet modules loaded)."""
    module = require_module("aiogear", "aiogear")
    for sub in ("client", "worker", "admin", "packet"):
        require_module(f"aiogear.{sub}", "aiogear")
    return module


class Session:
    """The aiogear connections of one scenario; :meth:`close` tears all of them down."""

    def __init__(self, aiogear: ModuleType, server: ServerProcess) -> None:
        self.aiogear = aiogear
        self.server = server
        self.protocols: list[Any] = []
        self.workers: list[AsyncWorker] = []

    async def client(self) -> Any:
        """A connected aiogear Client."""
        _, client = await asyncio.get_running_loop().create_connection(
            self.aiogear.client.Client, "127.0.0.1", self.server.port)
        self.protocols.append(client)
        return client

    async def admin(self) -> Any:
        """A connected aiogear Admin (text protocol)."""
        _, admin = await asyncio.get_running_loop().create_connection(
            self.aiogear.admin.Admin, "127.0.0.1", self.server.port)
        self.protocols.append(admin)
        return admin

    async def worker(self, function: str, grab_type: str) -> AsyncWorker:
        """A connected :class:`AsyncWorker` for ``function``."""
        worker = AsyncWorker(self.aiogear, function, grab_type)
        self.workers.append(worker)
        return await worker.start(self.server)

    async def wait_for_registration(self, function: str) -> None:
        """Wait until the text ``workers`` reply lists ``function`` (CAN_DO was processed)."""
        async def registered() -> bool:
            admin = await self.admin()
            workers = await admin.workers()
            self.close_protocol(admin)
            return any(function in worker["functions"] for worker in workers)
        await wait_async(registered, f"a worker to register {function}")

    @staticmethod
    def close_protocol(protocol: Any) -> None:
        """Close a client/admin connection without waiting; clearing ``transport`` keeps
        aiogear's Client.__del__ from touching a closed loop later."""
        transport, protocol.transport = protocol.transport, None
        if transport is not None:
            transport.close()

    def close(self) -> None:
        """Stop every worker and close every connection."""
        for worker in self.workers:
            worker.stop()
        for protocol in self.protocols:
            self.close_protocol(protocol)


def run(aiogear: ModuleType, server: ServerProcess,
        scenario: Callable[[Session], Awaitable[None]],
        timeout: float = 2 * ROUND_TRIP_TIMEOUT) -> None:
    """Run ``scenario`` in a fresh event loop, failing the test after ``timeout`` seconds.

    The timeout is reported without a traceback: formatting the chained CancelledError/
    TimeoutError traceback has crashed pytest (SystemError "AST constructor recursion depth
    mismatch", a CPython 3.11.7 bug) and would end the whole session.
    """
    async def bounded() -> bool:
        session = Session(aiogear, server)
        try:
            await asyncio.wait_for(scenario(session), timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            session.close()
            await asyncio.sleep(0)  # let the transports' connection_lost callbacks run

    if not asyncio.run(bounded()):
        pytest.fail(f"aiogear scenario did not finish within {timeout}s", pytrace=False)


async def wait_async(predicate: Callable[[], Awaitable[bool]], what: str,
                     timeout: float = ROUND_TRIP_TIMEOUT) -> None:
    """Poll an async predicate until true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}", pytrace=False)
        await asyncio.sleep(0.02)


class AsyncWorker:
    """An aiogear Worker following the job contract; ``done`` lists payloads run, in order."""

    def __init__(self, aiogear: ModuleType, function: str, grab_type: str) -> None:
        self.aiogear = aiogear
        self.function = function
        self.grab_type = grab_type
        self.done: list[str] = []
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.protocol: Any = None
        self.transport: Any = None

    async def start(self, server: ServerProcess) -> AsyncWorker:
        """Connect; the worker registers and starts its PRE_SLEEP/NOOP/grab loop."""
        Type = self.aiogear.packet.Type

        def factory() -> Any:
            return self.aiogear.worker.Worker((self._job, self.function),
                                              grab_type=getattr(Type, self.grab_type))

        self.transport, self.protocol = await asyncio.get_running_loop().create_connection(
            factory, "127.0.0.1", server.port)
        return self

    async def _job(self, info: Any) -> str:
        Type = self.aiogear.packet.Type
        payload: str = info.workload
        if payload.startswith("hold:"):
            self.protocol.send(Type.WORK_STATUS, info.handle, "1", "4")
            self.holding.set()
            await asyncio.wait_for(self.release.wait(), 15)
        elif payload.startswith("exc:"):
            raise RuntimeError("boom:" + payload[4:])  # aiogear sends WORK_EXCEPTION str(exc)
        self.done.append(payload)
        return payload[::-1]

    async def wait_done(self, payloads: list[str], timeout: float = ROUND_TRIP_TIMEOUT) -> list[str]:
        """Wait until all ``payloads`` ran; return everything run so far."""
        async def all_done() -> bool:
            return set(payloads) <= set(self.done)
        await wait_async(all_done, f"worker to run {payloads} (ran {self.done})", timeout)
        return list(self.done)

    def stop(self) -> None:
        """Cancel the worker loop and close its connection."""
        self.release.set()
        if self.protocol is not None and self.protocol.main_task is not None:
            self.protocol.main_task.cancel()
        if self.transport is not None:
            self.transport.close()


@pytest.mark.parametrize("grab_type", GRAB_TYPES)
@pytest.mark.parametrize("priority", list(SUBMIT))
def test_aiogear_foreground_job(aiogear: ModuleType, server: ServerProcess, priority: str,
                                grab_type: str) -> None:
    """submit_job / _high / _low: JOB_CREATED, then WORK_COMPLETE with the worker's result."""
    async def scenario(session: Session) -> None:
        function = unique_name("aio_fg")
        await session.worker(function, grab_type)
        await session.wait_for_registration(function)
        client = await session.client()
        payload = f"aiogear {priority} payload"
        created = await getattr(client, SUBMIT[priority])(function, payload, uuid=unique_name("u"))
        assert created.handle.startswith("H:")
        result = await client.wait_job(created.handle)
        assert type(result).__name__ == "WorkComplete", result
        assert result.result == reverse(payload)
    run(aiogear, server, scenario)


@pytest.mark.parametrize("grab_type", GRAB_TYPES)
def test_aiogear_background_jobs_run(aiogear: ModuleType, server: ServerProcess,
                                     grab_type: str) -> None:
    """submit_job_bg / _high_bg / _low_bg get handles and the worker runs each job."""
    async def scenario(session: Session) -> None:
        function = unique_name("aio_bg")
        worker = await session.worker(function, grab_type)
        client = await session.client()
        payloads = [f"bg-{priority}" for priority in SUBMIT_BG]
        for priority, payload in zip(SUBMIT_BG, payloads):
            created = await getattr(client, SUBMIT_BG[priority])(function, payload,
                                                                  uuid=unique_name("u"))
            assert created.handle.startswith("H:")
        await worker.wait_done(payloads)
    run(aiogear, server, scenario)


def test_aiogear_background_priority_order(aiogear: ModuleType, server: ServerProcess) -> None:
    """Jobs queued before the worker connects: its first PRE_SLEEP must get a NOOP at once, and
    the jobs come out high, normal, low."""
    async def scenario(session: Session) -> None:
        function = unique_name("aio_order")
        client = await session.client()
        order = ["low-1", "normal-1", "high-1", "low-2", "normal-2", "high-2"]
        for payload in order:
            await getattr(client, SUBMIT_BG[payload.split("-")[0]])(function, payload,
                                                                    uuid=unique_name("u"))
        worker = await session.worker(function, "GRAB_JOB_UNIQ")
        done = await worker.wait_done(order)
        assert done == ["high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"]
    run(aiogear, server, scenario)


def test_aiogear_job_status(aiogear: ModuleType, server: ServerProcess) -> None:
    """get_status: running job 1/4 (ints), queued job 0/0, finished job unknown 0/0."""
    async def scenario(session: Session) -> None:
        function, idle = unique_name("aio_status"), unique_name("aio_idle")
        worker = await session.worker(function, "GRAB_JOB_UNIQ")
        client = await session.client()
        held = await client.submit_job_bg(function, "hold:aio", uuid=unique_name("u"))
        queued = await client.submit_job_bg(idle, "nobody", uuid=unique_name("u"))
        await asyncio.wait_for(worker.holding.wait(), ROUND_TRIP_TIMEOUT)

        async def status_is(handle: str, expected: tuple[Any, ...]) -> bool:
            status = await client.get_status(handle)
            return (status.handle, status.known, status.running, status.numerator,
                    status.denominator) == (handle, *expected)

        await wait_async(lambda: status_is(held.handle, (True, True, 1, 4)), "running 1/4")
        assert await status_is(queued.handle, (True, False, 0, 0))
        worker.release.set()
        await worker.wait_done(["hold:aio"])
        await wait_async(lambda: status_is(held.handle, (False, False, 0, 0)),
                         "finished job to be unknown")
    run(aiogear, server, scenario)


def test_aiogear_exception_needs_option(aiogear: ModuleType, server: ServerProcess) -> None:
    """A worker exception is WORK_EXCEPTION; the client sees WORK_FAIL unless it asked for
    exceptions with OPTION_REQ (answered by OPTION_RES), then WORK_EXCEPTION with the text."""
    async def scenario(session: Session) -> None:
        function = unique_name("aio_exc")
        await session.worker(function, "GRAB_JOB_UNIQ")
        plain = await session.client()
        created = await plain.submit_job(function, "exc:a", uuid=unique_name("u"))
        result = await plain.wait_job(created.handle)
        assert type(result).__name__ == "WorkFail", result

        opted = await session.client()
        answer = await opted.option_req("exceptions")
        assert answer == b"exceptions", answer
        created = await opted.submit_job(function, "exc:b", uuid=unique_name("u"))
        result = await opted.wait_job(created.handle)
        assert type(result).__name__ == "WorkException", result
        assert result.exception == "boom:b"
    run(aiogear, server, scenario)


def test_aiogear_admin(aiogear: ModuleType, server: ServerProcess) -> None:
    """Admin text commands: ``status``, ``workers``, ``version`` and ``maxqueue``."""
    async def scenario(session: Session) -> None:
        busy, idle = unique_name("aio_adm"), unique_name("aio_admidle")
        await session.worker(busy, "GRAB_JOB")
        await session.wait_for_registration(busy)
        client = await session.client()
        await client.submit_job_bg(idle, "queued", uuid=unique_name("u"))
        admin = await session.admin()
        status = {row["function"]: row for row in await admin.status()}
        assert status[busy] == {"function": busy, "total": 0, "running": 0,
                                "available_workers": 1}
        assert status[idle] == {"function": idle, "total": 1, "running": 0,
                                "available_workers": 0}
        workers = [w for w in await admin.workers() if busy in w["functions"]]
        assert len(workers) == 1 and workers[0]["ip_address"] == "127.0.0.1", workers
        assert (await admin.version()).startswith("OK ")
        # maxqueue(fn, int) is broken in aiogear 0.2.6 (raises); the per-priority list form
        # sends "maxqueue FN 5 5 5".
        assert await admin.maxqueue(idle, [5, 5, 5]) == "OK"
    run(aiogear, server, scenario)
