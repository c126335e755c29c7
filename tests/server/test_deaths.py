"""Workers and clients dying mid-job, at -t 0 and -t 4, with a fixed seed for who dies how.

Workers take one job each and die: closing without a result, with an RST (SO_LINGER 0), right
after WORK_COMPLETE, or after a WORK_DATA; foreground clients sometimes die while they wait. One
good worker keeps working. Afterwards: every foreground client that stayed got its result or
WORK_FAIL, every background job completed exactly once, and no job is left running (or queued)
without a worker.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter

import pytest

from tests.server.test_process import THREADS
from tests.support.servers import ServerProcess, start_server
from tests.support.socket_fuzz import admin, next_job, reset
from tests.support.wire import Conn

SEED = 424242
FUNCTION = b"deaths"
BACKGROUND_JOBS = 300
CLIENTS = 6
JOBS_PER_CLIENT = 40
DYING_WORKERS = 4
#: Bounded waits only: a result that takes longer than this is lost, not slow.
PATIENCE = 30.0
#: How a worker dies holding a job; the complete-then-RST death is only used on foreground jobs,
#: because whether the server read a WORK_COMPLETE that an RST overtook is up to the kernel.
DEATHS = ("close", "reset", "complete-close", "complete-reset", "data-reset")


class Run:
    """The shared tallies of one run."""

    def __init__(self, server: ServerProcess) -> None:
        self.address = server.address
        self.lock = threading.Lock()
        self.completions: Counter[bytes] = Counter()  # background unique -> completions
        self.deaths: Counter[str] = Counter()
        self.failures: list[str] = []
        self.outcomes: Counter[str] = Counter()
        self.stop = threading.Event()

    def completed(self, unique: bytes) -> None:
        with self.lock:
            self.completions[unique] += 1

    def thread(self, target, *args) -> threading.Thread:
        def guarded() -> None:
            try:
                target(*args)
            except Exception as error:  # noqa: BLE001 - reported, and the test fails on it
                self.failures.append(f"{target.__name__}{args}: {error!r}")
        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        return thread

    def grab(self, conn: Conn) -> tuple[bytes, bytes, bytes] | None:
        """The next job's handle, unique and data; None when told to stop."""
        job = next_job(conn, self.stop, "GRAB_JOB_UNIQ")
        if job is None:
            return None
        handle, _, unique, data = job.args
        return handle, unique, data

    def good_worker(self) -> None:
        conn = Conn(self.address)
        conn.send("CAN_DO", FUNCTION)
        while (job := self.grab(conn)) is not None:
            handle, unique, data = job
            time.sleep(0.002)  # leave the dying workers some jobs
            conn.send("WORK_COMPLETE", handle, data[::-1])
            if data.startswith(b"bg"):
                self.completed(unique)
        conn.close()

    def dying_worker(self, seed: int) -> None:
        rnd = random.Random(seed)
        while not self.stop.is_set():
            conn = Conn(self.address)
            conn.send("CAN_DO", FUNCTION)
            job = self.grab(conn)
            if job is None:
                conn.close()
                return
            handle, unique, data = job
            death = rnd.choice(DEATHS)
            if death == "complete-reset" and data.startswith(b"bg"):
                death = "reset"
            self.deaths[death] += 1
            if death.startswith("complete"):
                conn.send("WORK_COMPLETE", handle, data[::-1])
                if data.startswith(b"bg"):
                    self.completed(unique)
            elif death == "data-reset":
                conn.send("WORK_DATA", handle, b"partial")
            if death.endswith("reset"):
                reset(conn.sock)
            else:
                conn.close()

    def client(self, seed: int) -> None:
        """Foreground jobs one at a time; sometimes dies waiting for one."""
        rnd = random.Random(seed)
        conn = Conn(self.address)
        for n in range(JOBS_PER_CLIENT):
            data = b"fg %d %d" % (seed, n)
            conn.send("SUBMIT_JOB", FUNCTION, b"fg-%d-%d" % (seed, n), data)
            created = conn.recv_packet(PATIENCE)
            assert created.name == "JOB_CREATED", created
            if rnd.random() < 0.15:
                self.outcomes["client died"] += 1
                (reset if rnd.random() < 0.5 else socket.socket.close)(conn.sock)
                conn = Conn(self.address)
                continue
            while True:
                packet = conn.recv_packet(PATIENCE)  # TimeoutError: the job was lost
                if packet.name in ("WORK_DATA", "WORK_STATUS"):
                    continue
                assert packet.args[0] == created.args[0], (packet, created)
                if packet.name == "WORK_COMPLETE":
                    assert packet.args[1] == data[::-1], packet
                else:
                    assert packet.name == "WORK_FAIL", packet
                self.outcomes[packet.name] += 1
                break
        conn.close()


def status_row(address: tuple[str, int]) -> list[bytes]:
    rows = [r for r in admin(address, b"status") if r.startswith(FUNCTION + b"\t")]
    return rows[0].rstrip(b"\n").split(b"\t")[1:] if rows else []


def wait_for(condition, what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(params=THREADS)
def threads(request: pytest.FixtureRequest) -> list[str]:
    return request.param


@pytest.mark.parametrize("retries", [None, 3], ids=["retry-forever", "j3"])
def test_jobs_survive_worker_and_client_deaths(threads: list[str], retries: int | None) -> None:
    """With ``-j 3`` a job whose workers die three times is dropped: its clients get WORK_FAIL
    and a background job then completes at most once."""
    server = start_server("gearmand-py", threads + (["-j", str(retries)] if retries else []))
    try:
        check_deaths(server, exactly_once=retries is None)
    finally:
        server.stop()


def check_deaths(server: ServerProcess, exactly_once: bool) -> None:
    run = Run(server)
    good = run.thread(run.good_worker)
    dying = [run.thread(run.dying_worker, SEED + i) for i in range(DYING_WORKERS)]
    submitter = Conn(server.address)
    for n in range(BACKGROUND_JOBS):
        submitter.send("SUBMIT_JOB_BG", FUNCTION, b"bg-%d" % n, b"bg %d" % n)
        assert submitter.recv_packet(PATIENCE).name == "JOB_CREATED"
    submitter.close()
    clients = [run.thread(run.client, SEED * 10 + i) for i in range(CLIENTS)]
    for thread in clients:
        thread.join(PATIENCE * JOBS_PER_CLIENT)
    if exactly_once:
        wait_for(lambda: len(run.completions) == BACKGROUND_JOBS or run.failures,
                 "every background job to complete")
    wait_for(lambda: status_row(server.address)[:2] == [b"0", b"0"], "status to reach zero")
    run.stop.set()
    for thread in [good, *dying]:
        thread.join(PATIENCE)

    assert not run.failures, run.failures
    assert server.proc.poll() is None, server.log()[-3000:]
    assert set(run.deaths) == set(DEATHS), run.deaths  # every kind of death happened
    assert run.outcomes["WORK_COMPLETE"] + run.outcomes["WORK_FAIL"] + \
        run.outcomes["client died"] == CLIENTS * JOBS_PER_CLIENT, run.outcomes
    twice = {u: c for u, c in run.completions.items() if c > 1}
    assert not twice, f"background jobs completed more than once: {twice}"
    if exactly_once:
        assert len(run.completions) == BACKGROUND_JOBS
        assert run.outcomes["WORK_FAIL"] == 0, run.outcomes
    wait_for(lambda: status_row(server.address) == [b"0", b"0", b"0"], "the workers to be gone")
    assert admin(server.address, b"show jobs") == [b".\n"]
    log = server.log()
    assert "internal error" not in log and "Traceback" not in log, log[-3000:]
