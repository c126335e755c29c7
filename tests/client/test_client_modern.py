"""The modern API (``Client.submit``, ``Worker.task``, futures, epoch and reduce jobs) against
gearmand 1.1.20 and gearmand-py, on the same connection layer as the compat API. Where the two
servers differ (an epoch job coming due while its worker sleeps) each is tested for what it
really does."""

from __future__ import annotations

import concurrent.futures
import datetime
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gearmand_py.client import (
    Client, Job, JobException, JobFailed, JobFuture, JobHandle, JobStatus, SubmitRejected, Worker,
)
from gearmand_py.client.compat import GearmanAdminClient
from tests.client.harness import hosts, in_thread, worker_thread
from tests.support.servers import ServerProcess


@contextmanager
def running(worker: Worker) -> Iterator[Worker]:
    """``worker.run()`` in a thread until the block ends."""
    with in_thread(worker.run, worker.stop):
        yield worker


def test_decorated_tasks_and_futures(server: ServerProcess) -> None:
    worker = Worker(hosts(server))

    @worker.task
    def modern_upper(job: Job) -> bytes:
        return job.data.upper()

    @worker.task("modern-updates")
    def updates(job: Job) -> str:
        job.status(1, 3)
        job.send_data(b"part")
        job.warn("careful")
        return f"{job.function}:{job.unique}:{job.data.decode()}"

    with running(worker), Client(hosts(server)) as client:
        future = client.submit("modern_upper", "abc")
        assert isinstance(future, concurrent.futures.Future)
        assert future.result(timeout=10) == b"ABC"
        assert future.handle is not None and future.handle.startswith("H:")
        updated = client.submit("modern-updates", b"x", unique="u-7")
        assert updated.result(10) == b"modern-updates:u-7:x"
        assert (updated.data, updated.warnings, updated.progress) == ([b"part"], [b"careful"],
                                                                      (1, 3))
        many = [client.submit("modern_upper", str(i)) for i in range(50)]
        assert sorted(f.result(10) for f in client.as_completed(many, timeout=20)) == sorted(
            str(i).encode() for i in range(50))


def test_callbacks_run_when_the_result_arrives(server: ServerProcess) -> None:
    worker = Worker(hosts(server))
    worker.task("modern-cb")(lambda job: job.data[::-1])
    seen: list[bytes] = []
    with running(worker), Client(hosts(server)) as client:
        future = client.submit("modern-cb", b"abc")
        future.add_done_callback(lambda f: seen.append(f.result()))
        assert client.wait([future], 10)
    assert seen == [b"cba"]


def test_failures_reach_the_future(server: ServerProcess) -> None:
    """A task that raises sends WORK_EXCEPTION: the future gets its text (the client asked for
    exceptions). A job the compat worker fails gets JobFailed."""
    worker = Worker(hosts(server))

    @worker.task("modern-raise")
    def boom(job: Job) -> bytes:
        raise RuntimeError("no " + job.data.decode())

    with running(worker), Client(hosts(server)) as client:
        error = client.submit("modern-raise", "way").exception(10)
        assert isinstance(error, JobException) and error.message == "RuntimeError: no way"
        with pytest.raises(JobException, match="no way"):
            client.submit("modern-raise", "way").result(10)
        assert not client.submit("modern-raise", "x").cancel()

    def fail(w: object, job: object) -> None:
        raise ValueError()
    with worker_thread(hosts(server), {"modern-fail": fail}), Client(hosts(server)) as client:
        error = client.submit("modern-fail", "x").exception(10)
        assert type(error) is JobFailed


def test_a_python_gearman_client_sees_a_modern_exception_as_a_failure(
        server: ServerProcess) -> None:
    """Without the exceptions option the server turns WORK_EXCEPTION into WORK_FAIL whose
    handle ends in a NUL; the compat client still matches it to its job."""
    import gearmand_py.client.compat as gearman
    worker = Worker(hosts(server))
    worker.task("modern-raise-compat")(lambda job: 1 / 0)
    with running(worker):
        request = gearman.GearmanClient(hosts(server)).submit_job("modern-raise-compat", "x",
                                                                  poll_timeout=10)
    assert (request.state, request.timed_out) == (gearman.JOB_FAILED, False)


def test_background_jobs_handles_and_status(server: ServerProcess) -> None:
    release = threading.Event()
    worker = Worker(hosts(server))

    @worker.task("modern-bg")
    def hold(job: Job) -> None:
        job.status(2, 5)
        release.wait(10)

    with Client(hosts(server)) as client:
        handle = client.submit("modern-bg", "x", background=True, priority="high")
        assert isinstance(handle, JobHandle) and handle.handle.startswith("H:")
        assert handle.server.port == server.port
        queued = client.status(handle)
        assert (queued.known, queued.running, queued.numerator, queued.denominator) == (
            True, False, 0, 0)
        with running(worker):
            _wait(lambda: client.status(handle) == JobStatus(True, True, 2, 5))
            release.set()
            _wait(lambda: not client.status(handle).known)


def test_maxqueue_refusal_is_submit_rejected(server: ServerProcess) -> None:
    with Client(hosts(server)) as client:
        client.submit("modern-full", "1", background=True)
        # gearmand ignores a maxqueue for a function that does not exist yet
        GearmanAdminClient(hosts(server)).send_maxqueue("modern-full", 1)
        with pytest.raises(SubmitRejected, match="QUEUE_ERROR"):
            client.submit("modern-full", "2", background=True)
        assert isinstance(client.submit("modern-full", "3").exception(10), SubmitRejected)


def test_invalid_combinations_are_refused() -> None:
    client = Client(["127.0.0.1:1"])
    with pytest.raises(ValueError, match="background job"):
        client.submit("f", "x", at=0)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="normal priority"):
        client.submit("f", "x", reducer="r", priority="high")
    with pytest.raises(ValueError, match="not both"):
        client.submit("f", "x", background=True, at=0, reducer="r")
    with pytest.raises(ValueError, match="priority must be"):
        client.submit("f", "x", priority="urgent")  # type: ignore[arg-type]


def test_an_epoch_job_in_the_past_runs_at_once(server: ServerProcess) -> None:
    ran: list[bytes] = []
    worker = Worker(hosts(server))
    worker.task("modern-epoch-past")(lambda job: ran.append(job.data))
    with Client(hosts(server)) as client, running(worker):
        client.submit("modern-epoch-past", "x", background=True, at=0)
        client.submit("modern-epoch-past", "y", background=True,
                      at=datetime.datetime.now() - datetime.timedelta(hours=1))
        _wait(lambda: sorted(ran) == [b"x", b"y"])


def test_a_future_epoch_job_waits_for_its_time(server: ServerProcess) -> None:
    """The job is queued, not run, before its epoch. Once it is due, gearmand-py wakes the
    sleeping worker; gearmand 1.1.20 has no timer (its issue #101), so the job runs only when
    another job wakes the worker and it grabs again."""
    ran: list[tuple[bytes, float]] = []
    worker = Worker(hosts(server))
    worker.task("modern-epoch")(lambda job: ran.append((job.data, time.time())))
    admin = GearmanAdminClient(hosts(server))
    with Client(hosts(server)) as client, running(worker):
        _wait(lambda: _status(admin, "modern-epoch")["workers"] == 1)
        when = int(time.time()) + 2
        client.submit("modern-epoch", "later", background=True, at=when)
        assert _status(admin, "modern-epoch")["queued"] == 1
        assert ran == []
        if server.kind == "gearmand":
            time.sleep(max(0.0, when + 1.5 - time.time()))
            assert ran == []  # due, but nobody woke the sleeping worker
            client.submit("modern-epoch", "wake", background=True)
        _wait(lambda: b"later" in [data for data, _ in ran])
    assert [at for data, at in ran if data == b"later"][0] >= when


def test_reduce_jobs_reach_the_worker_with_their_reducer(server: ServerProcess) -> None:
    """SUBMIT_REDUCE_JOB(_BACKGROUND): the worker (GRAB_JOB_ALL) gets JOB_ASSIGN_ALL with the
    reducer, and Job.reduce runs the parts as jobs of the reducer function."""
    worker = Worker(hosts(server))
    seen: list[tuple[str, str]] = []

    @worker.task("modern-wordcount")
    def wordcount(job: Job) -> str:
        total = "plain"
        if job.reducer:
            total = str(sum(int(count) for count in job.reduce(job.data.splitlines(), 10)))
        seen.append((job.reducer, total))
        return total

    counter = Worker(hosts(server))
    counter.task("modern-count-words")(lambda job: str(len(job.data.split())))
    with running(worker), running(counter), Client(hosts(server)) as client:
        future = client.submit("modern-wordcount", "a b\nc d e\nf", reducer="modern-count-words")
        assert future.result(20) == b"6"
        assert client.submit("modern-wordcount", "x y").result(10) == b"plain"
        client.submit("modern-wordcount", "one two", background=True,
                      reducer="modern-count-words")
        _wait(lambda: len(seen) == 3)
    assert seen == [("modern-count-words", "6"), ("", "plain"), ("modern-count-words", "2")]


def test_reduce_on_a_job_without_reducer_is_refused(server: ServerProcess) -> None:
    worker = Worker(hosts(server))
    worker.task("modern-noreduce")(lambda job: job.reduce([b"x"]))
    with running(worker), Client(hosts(server)) as client:
        error = client.submit("modern-noreduce", "x").exception(10)
    assert isinstance(error, JobException) and "is not a reduce job" in error.message


def test_a_unique_coalesces_futures_into_one_job(server: ServerProcess) -> None:
    release = threading.Event()
    worker = Worker(hosts(server))
    worker.task("modern-coalesce")(lambda job: release.wait(10) and job.data)
    with Client(hosts(server)) as first, Client(hosts(server)) as second, running(worker):
        futures: list[JobFuture] = [first.submit("modern-coalesce", "a", unique="same"),
                                    second.submit("modern-coalesce", "b", unique="same")]
        for client, future in zip((first, second), futures):
            _wait(lambda: client.wait([future], 0.05) or future.handle)
        release.set()
        results = [futures[0].result(10), futures[1].result(10)]
    # one job: the data of whichever submit the server saw first (they race on two connections)
    assert results in ([b"a", b"a"], [b"b", b"b"])
    assert futures[0].handle == futures[1].handle


def _status(admin: GearmanAdminClient, task: str) -> dict:
    return next((row for row in admin.get_status() if row["task"] == task),
                {"task": task, "queued": 0, "running": 0, "workers": 0})


def _wait(condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
