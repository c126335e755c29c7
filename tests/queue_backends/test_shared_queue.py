"""Several gearmand-py servers on one shared queue (``--shared-queue``), on the real PostgreSQL and
MariaDB of this machine: jobs run on workers of any server, a killed server's jobs run
elsewhere within its lease, a graceful stop hands its jobs over at once, coalescing and
priorities hold across servers, and concurrent claims never take one row twice.

``SHARED_JOBS=20000`` runs the kill -9 test with the issue's 20,000 jobs (default 2,000).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.queue_backends.dbs import SERVER_KINDS, Database, replaced
from tests.support.servers import ServerProcess, free_port, repo_env, start_server
from tests.support.wire import ConnectionClosed, Conn

from queue_backends import open_backend
from queue_backends.base import StoredJob
from queue_backends.shared import MEMBER_SHIFT, Entry, SharedStore

LEASE = 2  # seconds: short, so failover is quick to watch
JOBS = int(os.environ.get("SHARED_JOBS", "2000"))


@pytest.fixture(params=SERVER_KINDS)
def shared_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = Database.create(request.param, tmp_path)
    try:
        yield database
    finally:
        database.cleanup()


def queue_args(db: Database) -> list[str]:
    if db.kind == "mysql":
        return ["-q", "mysql", "--mysql-host", "127.0.0.1", "--mysql-user", "root",
                "--mysql-db", "test", "--mysql-table", db.table]
    return ["-q", "postgres", "--libpq-conninfo", db.settings.options["libpq_conninfo"],
            "--libpq-table", db.table]


@pytest.fixture
def servers(shared_db: Database) -> Iterator[list[ServerProcess]]:
    """Three servers sharing ``shared_db``'s table (a 2 s lease)."""
    started: list[ServerProcess] = []
    try:
        for _ in range(3):
            started.append(start_server("gearmand-py", [
                *queue_args(shared_db), "--shared-queue", "--shared-queue-lease", str(LEASE),
                "-t", "0", "--verbose", "INFO"]))
        yield started
    finally:
        for server in started:
            server.stop(signal.SIGKILL)


def member_of(server: ServerProcess) -> int:
    for line in server.log().splitlines():
        if "as member" in line:
            return int(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no member id in the log:\n{server.log()}")


def submit(server: ServerProcess, jobs: list[tuple[str, bytes]], function: str = "shared",
           kind: str = "SUBMIT_JOB_BG", acked: list[bytes] | None = None) -> list[bytes]:
    """Submit (unique, data) background jobs on one connection; their handles. ``acked`` gets
    the data of each job as its JOB_CREATED comes."""
    conn = Conn(server.address, timeout=30)
    try:
        handles = []
        for start in range(0, len(jobs), 200):  # pipelined, a group at a time
            group = jobs[start:start + 200]
            for unique, data in group:
                conn.send(kind, function, unique, data)
            for _unique, data in group:
                packet = conn.recv_packet(timeout=30)
                assert packet.name == "JOB_CREATED", packet
                handles.append(packet.args[0])
                if acked is not None:
                    acked.append(data)
        return handles
    finally:
        conn.close()


def submit_until_gone(server: ServerProcess, jobs: list[tuple[str, bytes]],
                      acked: list[bytes]) -> None:
    """``submit``, for a server that may be killed meanwhile."""
    try:
        submit(server, jobs, acked=acked)
    except (ConnectionClosed, OSError):
        pass


class Worker(threading.Thread):
    """A raw-protocol worker on one server that records the data of every job it is given."""

    def __init__(self, server: ServerProcess, function: str = "shared", hold: float = 0.0,
                 seen: list[bytes] | None = None) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.function = function
        self.hold = hold
        self.seen: list[bytes] = [] if seen is None else seen
        #: Jobs it was given, in order (its own list even when ``seen`` is shared).
        self.given: list[bytes] = []
        self.stopping = threading.Event()
        self.conn = Conn(server.address, timeout=30)
        self.conn.send("CAN_DO", function)
        self.start()

    def run(self) -> None:
        conn = self.conn
        try:
            while not self.stopping.is_set():
                conn.send("GRAB_JOB_UNIQ")
                packet = conn.recv_packet(timeout=30)
                if packet.name == "NO_JOB":
                    conn.send("PRE_SLEEP")
                    while not self.stopping.is_set():
                        try:
                            if conn.recv_packet(timeout=0.2).name == "NOOP":
                                break
                        except TimeoutError:
                            continue
                    continue
                assert packet.name == "JOB_ASSIGN_UNIQ", packet
                handle, _function, _unique, data = packet.args
                self.given.append(data)
                if self.hold:
                    time.sleep(self.hold)
                conn.send("WORK_COMPLETE", handle, b"")
                self.seen.append(data)
        except (ConnectionClosed, OSError):
            pass  # its server went away
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def wait_for(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - started


def rows(db: Database, where: str = "1=1") -> int:
    return db.sql(f"SELECT count(*) FROM {db.table} WHERE {where}")[0][0]


# -- jobs across servers ----------------------------------------------------------------------


def test_jobs_submitted_to_two_servers_run_once_on_the_workers_of_the_third(shared_db, servers):
    a, b, c = servers
    seen: list[bytes] = []
    workers = [Worker(c, seen=seen) for _ in range(2)]
    try:
        expected = {b"a%d" % i for i in range(50)} | {b"b%d" % i for i in range(50)}
        submit(a, [("", b"a%d" % i) for i in range(50)])
        submit(b, [("", b"b%d" % i) for i in range(50)])
        wait_for(lambda: len(seen) >= 100, 20, "100 jobs run")
        time.sleep(0.5)
        assert sorted(seen) == sorted(expected)
        wait_for(lambda: rows(shared_db) == 0, 5, "every row deleted")
    finally:
        for worker in workers:
            worker.stop()


def test_a_job_reaches_an_idle_worker_of_another_server_promptly(shared_db, servers):
    a, b, _c = servers
    worker = Worker(b)
    try:
        time.sleep(0.5)  # the worker sleeps; b wants jobs
        started = time.monotonic()
        submit(a, [("", b"prompt")])
        wait_for(lambda: worker.seen == [b"prompt"], 5, "the job run on b")
        latency = time.monotonic() - started
        # PostgreSQL wakes b with a NOTIFY, MariaDB's servers look every 0.25 s.
        assert latency < (0.5 if shared_db.kind == "postgres" else 1.0), latency
    finally:
        worker.stop()


def test_high_jobs_run_before_normal_and_low_ones_of_another_server(shared_db, servers):
    a, b, _c = servers
    submit(a, [("", b"low1"), ("", b"low2")], kind="SUBMIT_JOB_LOW_BG")
    submit(a, [("", b"normal1")])
    submit(a, [("", b"high1")], kind="SUBMIT_JOB_HIGH_BG")
    worker = Worker(b)
    try:
        wait_for(lambda: len(worker.seen) == 4, 10, "4 jobs run")
        assert worker.seen == [b"high1", b"normal1", b"low1", b"low2"]
    finally:
        worker.stop()


def test_a_unique_coalesces_across_servers(shared_db, servers):
    a, b, c = servers
    first = submit(a, [("same", b"one")])
    second = submit(b, [("same", b"two")])
    assert first == second  # the second submit is told the first job's handle, as gearmand
    assert rows(shared_db) == 1
    worker = Worker(c)
    try:
        wait_for(lambda: worker.seen == [b"one"], 10, "the job run once")
        time.sleep(0.5)
        assert worker.seen == [b"one"]
    finally:
        worker.stop()
    submit(a, [("same", b"three")])  # the job is done: the unique is free again
    assert rows(shared_db) == 1


def test_an_epoch_job_runs_at_its_time_on_another_server(shared_db, servers):
    a, b, _c = servers
    worker = Worker(b)
    try:
        when = int(time.time()) + 2
        conn = Conn(a.address)
        conn.send("SUBMIT_JOB_EPOCH", "shared", "", str(when), b"later")
        assert conn.recv_packet().name == "JOB_CREATED"
        conn.close()
        time.sleep(0.5)
        assert worker.seen == []
        wait_for(lambda: worker.seen == [b"later"], 5, "the epoch job run")
        assert time.time() >= when
    finally:
        worker.stop()


def status_of(server: ServerProcess, handle: bytes) -> tuple[bytes, ...]:
    conn = Conn(server.address)
    try:
        conn.send("GET_STATUS", handle)
        packet = conn.recv_packet()
        assert packet.name == "STATUS_RES", packet
        return packet.args[1:]
    finally:
        conn.close()


def admin(server: ServerProcess, line: str) -> bytes:
    conn = Conn(server.address)
    try:
        conn.send_line(line)
        return conn.recv_line()
    finally:
        conn.close()


def test_get_status_and_cancel_job_by_handle_on_any_server(shared_db, servers):
    a, b, c = servers
    [waiting] = submit(a, [("", b"nobody runs it")], function="idle")
    assert waiting.startswith(b"H:") and b"/" in waiting
    assert status_of(b, waiting) == (b"1", b"0", b"0", b"0")
    worker = Worker(c, hold=10.0)
    try:
        [running] = submit(a, [("", b"runs")])
        wait_for(lambda: worker.given == [b"runs"], 5, "the job started on c")
        wait_for(lambda: status_of(b, running) == (b"1", b"1", b"0", b"0"), 5,
                 "b sees it running")
        assert status_of(c, running)[:2] == (b"1", b"1")  # c holds it: its own answer
        # Held by c: b cannot cancel it; held by nobody: b deletes it.
        assert admin(b, f"cancel job {running.decode()}").startswith(b"ERR")
        assert admin(b, f"cancel job {waiting.decode()}") == b"OK\r\n"
        assert status_of(a, waiting) == (b"0", b"0", b"0", b"0")
        assert rows(shared_db, "function_name = " + (
            "x'69646c65'" if shared_db.kind == "mysql" else "'\\x69646c65'::bytea")) == 0
        assert admin(b, "cancel job H:elsewhere/99:99").startswith(b"ERR")
        assert status_of(b, b"H:not-shared:7") == (b"0", b"0", b"0", b"0")
    finally:
        worker.stop()


def test_jobs_cross_servers_at_t_4(shared_db):
    started = [start_server("gearmand-py", [*queue_args(shared_db), "--shared-queue", "-t", "4"])
               for _ in range(2)]
    try:
        seen: list[bytes] = []
        workers = [Worker(started[1], seen=seen) for _ in range(4)]
        submit(started[0], [("", b"t4-%d" % i) for i in range(200)])
        wait_for(lambda: len(seen) >= 200, 20, "200 jobs run")
        time.sleep(0.3)
        assert sorted(seen) == sorted(b"t4-%d" % i for i in range(200))
        for worker in workers:
            worker.stop()
    finally:
        for server in started:
            server.stop()


# -- failures ---------------------------------------------------------------------------------


def test_kill_9_loses_no_job_and_reruns_only_what_the_dead_server_ran(shared_db, servers):
    a, b, c = servers
    seen: list[bytes] = []
    workers = {server.port: [Worker(server, hold=0.001, seen=seen) for _ in range(4)]
               for server in servers}
    expected = [b"job%d" % i for i in range(JOBS)]
    begun = time.monotonic()
    try:
        third = len(expected) // 3
        acked: list[bytes] = []
        threads = [threading.Thread(target=submit_until_gone,
                                    args=(server, [("", d) for d in part], acked))
                   for server, part in zip(servers, (expected[:third], expected[third:2 * third],
                                                     expected[2 * third:]))]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(seen) >= len(expected) // 4, 120, "a quarter of the jobs run")
        dead = member_of(a)
        a.proc.kill()
        killed = time.monotonic()
        a.proc.wait()
        for thread in threads:
            thread.join(120)
        # The rows the dead server held are given back within the lease (plus a heartbeat).
        back = wait_for(lambda: rows(shared_db, f"owner = {dead}") == 0, LEASE + 2,
                        "the dead server's rows given back")
        assert time.monotonic() - killed <= LEASE + 2, back
        # Every acknowledged job runs: the survivors' and the dead one's.
        acknowledged = set(acked)
        assert set(expected[third:]) <= acknowledged
        wait_for(lambda: rows(shared_db) == 0, 120,
                 f"the table emptied ({len(seen)} run, {rows(shared_db)} rows left, "
                 f"{rows(shared_db, 'owner IS NULL')} held by nobody)")
        counts = Counter(seen)
        missing = acknowledged - set(counts)
        assert not missing, f"{len(missing)} acknowledged jobs never ran"
        twice = {data for data, n in counts.items() if n > 1}
        ran_on_dead = {data for worker in workers[a.port] for data in worker.given}
        assert twice <= ran_on_dead, twice - ran_on_dead
        # A worker gets its next job only once its last one's row is deleted, so each of the
        # dead server's workers leaves at most one job to run again.
        assert len(twice) <= len(workers[a.port]), twice
        print(f"{len(twice)} jobs ran twice; rows back {back:.2f} s after the kill; "
              f"{len(seen) / (time.monotonic() - begun):.0f} jobs/s")
    finally:
        for group in workers.values():
            for worker in group:
                worker.stop()


def test_a_graceful_stop_hands_its_queued_jobs_over_at_once(shared_db, servers):
    a, b, _c = servers
    busy = Worker(a, hold=6.0)  # holds one job for 6 s; a keeps a few more for it
    try:
        submit(a, [("", b"g%d" % i) for i in range(6)])
        member = member_of(a)
        wait_for(lambda: rows(shared_db, f"owner = {member}") >= 2, 5, "a holds jobs")
        wait_for(lambda: busy.given == [b"g0"], 5, "a's worker runs the first job")
        a.proc.send_signal(signal.SIGUSR1)
        # Only the job its worker runs stays a's; the others are anyone's at once (well before
        # that job ends, and a, alive, would hold them until then).
        wait_for(lambda: rows(shared_db, f"owner = {member}") == 1, 3, "jobs given back")
        worker = Worker(b)
        wait_for(lambda: len(worker.seen) == 5, 10, "b runs the 5 others")
        busy.join(10)
        assert busy.seen == [b"g0"]
        assert a.proc.wait(10) == 0
        assert sorted(worker.seen + busy.seen) == sorted(b"g%d" % i for i in range(6))
        worker.stop()
    finally:
        busy.stop()


def test_sigterm_gives_back_every_job_it_holds(shared_db, servers):
    a, b, _c = servers
    busy = Worker(a, hold=30.0)
    submit(a, [("", b"t%d" % i) for i in range(4)])
    member = member_of(a)
    wait_for(lambda: rows(shared_db, f"owner = {member}") == 4, 5, "a holds the jobs")
    a.stop()
    assert rows(shared_db, f"owner = {member}") == 0
    worker = Worker(b)
    try:
        wait_for(lambda: len(worker.seen) == 4, 10, "b runs all 4, the one a ran too")
    finally:
        worker.stop()
        busy.stop()


# -- the store itself -------------------------------------------------------------------------


def open_store(db: Database) -> SharedStore:
    store = open_backend(replaced(db.settings, shared_queue=True, shared_queue_lease=LEASE))
    assert isinstance(store, SharedStore)
    db.opened.append(store)
    return store


def fill(store: SharedStore, count: int, function: bytes = b"f") -> list[int]:
    base = store.member << MEMBER_SHIFT
    entries = [Entry(StoredJob(base + i, b"", function, 1, b"%d" % i, 0), b"H:t/%d" % i, False)
               for i in range(1, count + 1)]
    assert store.add_shared(entries).refused == {}
    return [entry.row.id for entry in entries]


def test_two_servers_claiming_flat_out_never_take_one_row(shared_db):
    stores = [open_store(shared_db) for _ in range(2)]
    for n, store in enumerate(stores):
        store.join(f"claimer{n}", n)
    ids = fill(stores[0], 1000)
    taken: list[list[int]] = [[], []]

    def claim(n: int) -> None:
        # An empty claim may only mean that the other one has the rest locked right now.
        while got := stores[n].apply(demand={b"f": 7}) or rows(shared_db, "owner IS NULL"):
            if isinstance(got, list):
                taken[n] += [c.row.id for c in got]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert taken[0] and taken[1], "both claimed"
    assert sorted(taken[0] + taken[1]) == sorted(ids)
    assert not set(taken[0]) & set(taken[1])


def test_two_survivors_give_a_dead_servers_rows_back_once(shared_db):
    dead, first, second = (open_store(shared_db) for _ in range(3))
    for n, store in enumerate((dead, first, second)):
        store.join(f"s{n}", n)
    fill(dead, 50)
    assert len(dead.apply(demand={b"f": 50})) == 50
    time.sleep(LEASE + 0.2)  # the dead server's lease runs out: it never beats again
    results: list[tuple[int, int]] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.heartbeat()))
               for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(released for _renewed, released in results) == 50
    assert rows(shared_db, "owner IS NULL") == 50


def test_job_retries_count_the_attempts_of_every_server(shared_db):
    server = start_server("gearmand-py", [*queue_args(shared_db), "--shared-queue", "-j", "2",
                                          "--shared-queue-lease", str(LEASE),
                                          "--verbose", "NOTICE"])
    try:
        store = open_store(shared_db)
        store.join("elsewhere", 1)
        [row] = fill(store, 1)
        shared_db.sql(f"UPDATE {shared_db.table} SET attempts = 2 WHERE id = {row}")
        worker = Worker(server, function="f")
        wait_for(lambda: rows(shared_db) == 0, 5, "the job dropped")
        time.sleep(0.3)
        worker.stop()
        assert worker.seen == []
        assert "Dropped job due to max retry count" in server.log()
    finally:
        server.stop()


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--shared-queue"], "--shared-queue needs a PostgreSQL or MySQL/MariaDB queue"),
    (["--shared-queue", "-q", "libsqlite3", "--libsqlite3-db", "q.db"],
     "--shared-queue needs a PostgreSQL or MySQL/MariaDB queue"),
    (["--shared-queue", "-q", "redis"], "--shared-queue needs a PostgreSQL or MySQL/MariaDB"),
    (["--shared-queue", "--queue-url", "sqlite:///q.db"],
     "--queue-url: --shared-queue needs a PostgreSQL or MySQL/MariaDB URL, not sqlite"),
    (["--shared-queue-lease", "5"], "--shared-queue-lease needs --shared-queue"),
    (["--shared-queue", "--shared-queue-lease", "0"], "a lease is 1..3600 seconds"),
    (["--shared-queue", "-q", "postgres", "--store-queue-on-shutdown"],
     "--store-queue-on-shutdown cannot be used with --shared-queue"),
])
def test_a_shared_queue_it_cannot_run_stops_startup(tmp_path, args, message):
    result = run_server(tmp_path, args)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def run_server(workdir: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """gearmand-py with ``args``, expected to stop at startup."""
    return subprocess.run([sys.executable, "-m", "gearmand_py", "--log-file", "stderr",
                           "--listen", "127.0.0.1", "-p", str(free_port()),
                           "--pid-file", str(workdir / "pid"), *args],
                          cwd=workdir, env=repo_env(), capture_output=True, text=True,
                          timeout=30)


def test_single_server_and_shared_tables_refuse_each_other(shared_db, tmp_path):
    store = open_store(shared_db)
    store.close()
    single = run_server(tmp_path, queue_args(shared_db))
    assert single.returncode != 0
    assert "is a shared queue's (--shared-queue)" in single.stderr, single.stderr
    other = replaced(shared_db.settings)
    table = shared_db.table + "_single"
    options = {"mysql_table" if shared_db.kind == "mysql" else "libpq_table": table}
    open_backend(replaced(other, **options)).close()
    try:
        args = [a if a != shared_db.table else table for a in queue_args(shared_db)]
        shared = run_server(tmp_path, [*args, "--shared-queue"])
        assert shared.returncode != 0
        assert "is a single-server queue table" in shared.stderr, shared.stderr
    finally:
        shared_db.sql(f"DROP TABLE IF EXISTS {table}")
        shared_db.sql(f"DROP TABLE IF EXISTS {table}_peers")



def test_the_monitor_counts_jobs_left_to_the_store_as_handed_over(shared_db):
    import urllib.request
    monitor_port = free_port()
    server = start_server("gearmand-py", [*queue_args(shared_db), "--shared-queue",
                                          "--monitor-port", str(monitor_port)])
    try:
        submit(server, [("", b"h%d" % i) for i in range(3)])  # no worker here: left to the store

        def metrics() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/metrics") as page:
                return page.read().decode()

        wait_for(lambda: 'gearman_jobs_handed_over_total{function="shared"} 3' in metrics(), 5,
                 "3 jobs handed over")
        text = metrics()
        assert "gearman_jobs_failed_total{" not in text, text
        assert rows(shared_db, "owner IS NULL") == 3
    finally:
        server.stop()
