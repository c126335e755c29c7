"""Durable queues end to end: a real gearmand-py process with each backend, real databases.

What a user relies on: a background job acknowledged with JOB_CREATED survives kill -9 and runs
exactly once after the restart, in its priority order, whatever its unique; a database outage
answers durable submits with ERROR QUEUE_ERROR promptly while everything else keeps working, and
the server recovers by itself when the database is back, losing nothing it acknowledged.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.queue_backends.kv import MemcachedServer, RedisServer, redis_client
from tests.support.wire import Conn, encode
from tests.support.prerequisites import require
from tests.support.servers import ServerProcess, gearmand_available, start_server
from tests.support.tcp_proxy import TcpProxy

MYSQL = ("127.0.0.1", 3306)
POSTGRES = ("127.0.0.1", 5432)
# MariaDB refuses a statement over its max_allowed_packet (16 MiB by default), well below
# gearmand-py's --max-packet-size of 64 MiB: such a durable job is a row the database refuses.
OVER_MAX_ALLOWED_PACKET = b"x" * (20 << 20)


def reachable(kind: str) -> str | None:
    """None if the database answers, else why not."""
    try:
        if kind == "mysql":
            import pymysql
            pymysql.connect(host=MYSQL[0], port=MYSQL[1], user="root", database="test",
                            connect_timeout=3).close()
        elif kind == "postgres":
            import psycopg2
            psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname="test",
                             connect_timeout=3).close()
    except Exception as exc:  # any failure means: not usable here
        return f"{kind} at 127.0.0.1 is not usable: {exc}"
    return None


@dataclass
class Backend:
    kind: str
    table: str  # or the Redis key prefix
    tmp: Path
    redis: RedisServer | None = None  # a private one, appending to its AOF with fsync
    memcached: MemcachedServer | None = None  # a private one (not durable: it is not killed)

    @property
    def address(self) -> tuple[str, int]:
        """Where the database server listens."""
        if self.redis is not None:
            return ("127.0.0.1", self.redis.port)
        return MYSQL if self.kind == "mysql" else POSTGRES

    def args(self, port: int | None = None) -> list[str]:
        if self.memcached is not None:
            return ["-q", "libmemcached", "--libmemcached-servers",
                    f"127.0.0.1:{self.memcached.port}", "--libmemcached-prefix", self.table]
        if self.redis is not None:
            return ["-q", "redis", "--redis-server", "127.0.0.1", "--redis-port",
                    str(port or self.redis.port), "--redis-prefix", self.table]
        if self.kind == "sqlite":
            return ["-q", "libsqlite3", "--libsqlite3-db", str(self.tmp / "queue.db"),
                    "--libsqlite3-table", self.table]
        if self.kind == "mysql":
            return ["-q", "MySQL", "--mysql-host", "127.0.0.1",
                    "--mysql-port", str(port or MYSQL[1]), "--mysql-user", "root",
                    "--mysql-db", "test", "--mysql-table", self.table]
        return ["-q", "Postgres", "--libpq-conninfo",
                f"host=127.0.0.1 port={port or POSTGRES[1]} dbname=test user=postgres "
                "connect_timeout=3", "--libpq-table", self.table]

    def rows(self) -> int:
        if self.memcached is not None:
            from pymemcache.client.base import Client

            client = Client(("127.0.0.1", self.memcached.port))
            try:
                return int(client.stats()[b"curr_items"])
            finally:
                client.close()
        if self.redis is not None:
            client = redis_client(self.redis.port)
            try:
                return client.zcard(f"{self.table}:ids")
            finally:
                client.close()
        if self.kind == "sqlite":
            with sqlite3.connect(self.tmp / "queue.db") as db:
                return db.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]
        return self._query(f"SELECT COUNT(*) FROM {self.table}")[0][0]

    def drop(self) -> None:
        if self.memcached is not None:
            self.memcached.kill()
        if self.redis is not None:
            self.redis.kill()
        elif self.kind != "sqlite":
            self._query(f"DROP TABLE IF EXISTS {self.table}", commit=True)

    def _query(self, sql: str, commit: bool = False) -> list[tuple]:
        if self.kind == "mysql":
            import pymysql
            db = pymysql.connect(host=MYSQL[0], port=MYSQL[1], user="root", database="test")
        else:
            import psycopg2
            db = psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres",
                                  dbname="test")
        try:
            cur = db.cursor()
            cur.execute(sql)
            rows = [] if commit else list(cur.fetchall())
            if commit:
                db.commit()
            return rows
        finally:
            db.close()


@pytest.fixture(params=["sqlite", "mysql", "postgres", "redis", "memcached"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param in ("mysql", "postgres"):
        why = reachable(request.param)
        require(why is None, why or "")
    redis = RedisServer(tmp_path) if request.param == "redis" else None
    memcached = MemcachedServer() if request.param == "memcached" else None
    b = Backend(request.param, "gq_" + uuid.uuid4().hex[:12], tmp_path, redis, memcached)
    yield b
    b.drop()


def submit_bg(conn: Conn, function: str, unique: str, data: bytes, ptype: str = "SUBMIT_JOB_BG"
              ) -> bytes:
    conn.send(ptype, function, unique, data)
    reply = conn.recv_packet()
    assert reply.name == "JOB_CREATED", reply
    return reply.args[0]


def drain(server: ServerProcess, function: str, expect: int) -> list[bytes]:
    """Run every job of ``function`` once with GRAB_JOB_UNIQ + WORK_COMPLETE; return their data."""
    worker = Conn(server.address)
    worker.send("CAN_DO", function)
    seen: list[bytes] = []
    deadline = time.monotonic() + 30
    while len(seen) < expect and time.monotonic() < deadline:
        worker.send("GRAB_JOB_UNIQ")
        packet = worker.recv_packet()
        if packet.name == "NO_JOB":
            time.sleep(0.05)
            continue
        handle, _fn, _unique, data = packet.args
        seen.append(data)
        worker.send("WORK_COMPLETE", handle, b"ok")
    worker.send("GRAB_JOB_UNIQ")
    assert worker.recv_packet().name == "NO_JOB", "more jobs than were submitted"
    worker.close()
    return seen


@pytest.mark.parametrize("threads", ["0", "4"])
def test_acknowledged_jobs_survive_kill_9_and_run_exactly_once(backend: Backend,
                                                              threads: str) -> None:
    server = start_server("gearmand-py", ["-t", threads, *backend.args()])
    client = Conn(server.address)
    expected = []
    # Empty and '-' uniques collide in gearmand's tables; here each is its own durable job.
    for i in range(30):
        unique = ["", "-", f"u{i}"][i % 3]
        data = b"job-%d\0\xff" % i
        submit_bg(client, "durable", unique, data)
        expected.append(data)
    high = submit_bg(client, "durable", "", b"urgent", "SUBMIT_JOB_HIGH_BG")
    assert high
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)

    restarted = start_server("gearmand-py", ["-t", threads, *backend.args()])
    try:
        # New rows take ids after the replayed ones (a clash would be a QUEUE_ERROR here).
        submit_bg(Conn(restarted.address), "durable", "", b"after restart")
        expected.append(b"after restart")
        got = drain(restarted, "durable", len(expected) + 1)
        assert got[0] == b"urgent"  # priority survives the restart
        assert got[1:] == expected  # submission order too, each exactly once
        deadline = time.monotonic() + 10
        while backend.rows() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.rows() == 0  # completed jobs are deleted
    finally:
        restarted.stop()
        server.stop()


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_redis_killed_with_the_server_keeps_every_acknowledged_job(backend: Backend) -> None:
    """kill -9 of Redis (appendfsync always) as well as of gearmand-py, as a power cut would."""
    assert backend.redis is not None
    server = start_server("gearmand-py", ["-t", "4", *backend.args()])
    client = Conn(server.address)
    expected = [b"r%d" % i for i in range(50)]
    for i, data in enumerate(expected):
        submit_bg(client, "crash", ["", "-", f"u{i}"][i % 3], data)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    backend.redis.restart()
    restarted = start_server("gearmand-py", ["-t", "4", *backend.args()])
    try:
        assert drain(restarted, "crash", len(expected)) == expected
    finally:
        restarted.stop()
        server.stop()


def test_coalesced_and_foreground_submits_write_nothing(backend: Backend) -> None:
    server = start_server("gearmand-py", ["-t", "2", *backend.args()])
    try:
        client = Conn(server.address)
        first = submit_bg(client, "once", "same", b"a")
        assert submit_bg(client, "once", "same", b"b") == first
        client.send("SUBMIT_JOB", "once", "", b"foreground")
        assert client.recv_packet().name == "JOB_CREATED"
        assert backend.rows() == 1
    finally:
        server.stop()


def test_status_of_replayed_epoch_job_and_reducer_kept(backend: Backend) -> None:
    server = start_server("gearmand-py", ["-t", "0", *backend.args()])
    client = Conn(server.address)
    client.send("SUBMIT_REDUCE_JOB_BACKGROUND", "red", "r1", "myreducer", "", b"data")
    assert client.recv_packet().name == "JOB_CREATED"
    due = int(time.time()) + 6
    client.send("SUBMIT_JOB_EPOCH", "later", "e1", str(due), b"when")
    assert client.recv_packet().name == "JOB_CREATED"
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    restarted = start_server("gearmand-py", ["-t", "0", *backend.args()])
    try:
        worker = Conn(restarted.address)
        worker.send("CAN_DO", "later")
        worker.send("CAN_DO", "red")  # tried first (newest CAN_DO), even if "later" is due
        worker.send("GRAB_JOB_ALL")
        packet = worker.recv_packet()
        assert packet.name == "JOB_ASSIGN_ALL"
        assert packet.args[1:] == (b"red", b"r1", b"myreducer", b"data")
        worker.send("WORK_COMPLETE", packet.args[0], b"")
        if time.time() < due - 1:  # a slow restart may have used up the time
            worker.send("GRAB_JOB_ALL")
            assert worker.recv_packet().name == "NO_JOB"  # the epoch job is not due yet
            worker.send("PRE_SLEEP")
            assert worker.recv_packet(timeout=15).name == "NOOP"  # woken when it is due
        worker.send("GRAB_JOB_ALL")
        packet = worker.recv_packet()
        assert packet.args[1:] == (b"later", b"e1", b"when")
    finally:
        restarted.stop()
        server.stop()


@pytest.mark.parametrize("backend", ["mysql", "postgres", "redis"], indirect=True)
def test_database_outage_fails_durable_submits_promptly_and_recovers(backend: Backend) -> None:
    proxy = TcpProxy(backend.address)
    proxy.up()
    server = start_server("gearmand-py", ["-t", "2", *backend.args(proxy.port)])
    try:
        client = Conn(server.address)
        acknowledged = [submit_bg(client, "outage", f"before{i}", b"x") for i in range(5)]
        proxy.down()  # the database "restarts": connections dropped, new ones refused
        started = time.monotonic()
        client.send("SUBMIT_JOB_BG", "outage", "during", b"x")
        reply = client.recv_packet(timeout=15)
        assert reply.name == "ERROR" and reply.args[0] == b"QUEUE_ERROR", reply
        assert time.monotonic() - started < 10
        # Everything that does not need the database keeps working.
        client.send("ECHO_REQ", b"alive")
        assert client.recv_packet().args == (b"alive",)
        client.send("SUBMIT_JOB", "outage-fg", "", b"fg")
        assert client.recv_packet().name == "JOB_CREATED"
        proxy.up()
        deadline = time.monotonic() + 20
        while True:  # the writer reconnects by itself
            client.send("SUBMIT_JOB_BG", "outage", f"after{time.monotonic()}", b"x")
            reply = client.recv_packet(timeout=15)
            if reply.name == "JOB_CREATED":
                acknowledged.append(reply.args[0])
                break
            assert time.monotonic() < deadline, reply
            time.sleep(0.2)
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.stop()
    restarted = start_server("gearmand-py", ["-t", "2", *backend.args()])
    try:
        assert len(drain(restarted, "outage", len(acknowledged))) == len(acknowledged)
    finally:
        restarted.stop()
        proxy.down()


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
@pytest.mark.parametrize("threads", ["0", "4"])
def test_a_job_the_database_refuses_fails_alone_in_its_group_commit(backend: Backend,
                                                                    threads: str) -> None:
    """Concurrent clients keep the queue writer busy, so each too-big job is committed together
    with other clients' jobs: only it gets ERROR QUEUE_ERROR; every other job is acknowledged
    and survives kill -9."""
    server = start_server("gearmand-py", ["-t", threads, *backend.args()])
    clients, rounds, burst = 4, 20, 10
    acknowledged: list[list[bytes]] = [[] for _ in range(clients)]
    failures: list[str] = []

    def client(n: int) -> None:
        conn = Conn(server.address, timeout=60)
        try:
            for r in range(rounds):
                jobs = [(b"c%d-%d-%d" % (n, r, i), True) for i in range(burst)]
                if n < 3 and r == rounds // 2:  # three too-big jobs amid the others
                    jobs.insert(burst // 2, (OVER_MAX_ALLOWED_PACKET, False))
                conn.send_raw(b"".join(encode("SUBMIT_JOB_BG", "mixed", "", data)
                                       for data, _good in jobs))
                for data, good in jobs:
                    reply = conn.recv_packet(timeout=60)
                    if good and reply.name == "JOB_CREATED":
                        acknowledged[n].append(data)
                    elif good or reply.name != "ERROR" or reply.args[0] != b"QUEUE_ERROR":
                        failures.append(f"client {n} round {r} {data[:20]!r}: {reply}")
        except Exception as exc:  # reported by the main thread
            failures.append(f"client {n}: {exc!r}")
        finally:
            conn.close()

    try:
        runners = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in runners:
            thread.start()
        for thread in runners:
            thread.join(300)
        assert not failures, failures[:5]
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.stop()
    expected = sorted(data for datas in acknowledged for data in datas)
    assert len(expected) == clients * rounds * burst
    restarted = start_server("gearmand-py", ["-t", threads, *backend.args()])
    try:
        assert sorted(drain(restarted, "mixed", len(expected))) == expected
    finally:
        restarted.stop()


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
def test_store_queue_on_shutdown_stores_all_but_a_job_the_database_refuses(
        backend: Backend) -> None:
    args = ["-t", "0", *backend.args(), "--store-queue-on-shutdown"]
    server = start_server("gearmand-py", args)
    client = Conn(server.address, timeout=60)
    for i in range(3):
        submit_bg(client, "stored", "", b"s%d" % i)
    submit_bg(client, "stored", "", OVER_MAX_ALLOWED_PACKET)
    submit_bg(client, "stored", "", b"s3")
    assert server.stop() == 0
    assert backend.rows() == 4
    restarted = start_server("gearmand-py", args)
    try:
        assert drain(restarted, "stored", 4) == [b"s%d" % i for i in range(4)]
    finally:
        restarted.stop()


def test_store_queue_on_shutdown_writes_at_stop_and_replays_once(tmp_path: Path) -> None:
    backend = Backend("sqlite", "gearman_queue", tmp_path)
    args = ["-t", "0", *backend.args(), "--store-queue-on-shutdown"]
    server = start_server("gearmand-py", args)
    client = Conn(server.address)
    for i in range(5):
        submit_bg(client, "stored", "", b"s%d" % i)
    assert backend.rows() == 0  # nothing is written while running
    assert server.stop() == 0
    assert backend.rows() == 5
    restarted = start_server("gearmand-py", args)
    try:
        assert backend.rows() == 0  # emptied after the replay, as gearmand 1.1.21 does
        assert drain(restarted, "stored", 5) == [b"s%d" % i for i in range(5)]
    finally:
        restarted.stop()


def test_jobs_in_a_table_written_by_gearmand_are_replayed(tmp_path: Path) -> None:
    """Moving from gearmand: point gearmand-py at the SQLite file gearmand used."""
    require(gearmand_available(), "Debian's gearmand is missing")
    backend = Backend("sqlite", "gearman_queue", tmp_path)
    old = start_server("gearmand", ["-q", "libsqlite3", "--libsqlite3-db",
                                    str(tmp_path / "queue.db")])
    client = Conn(old.address)
    for i in range(4):
        submit_bg(client, "moved", f"key{i}", b"m%d" % i)
    old.stop()
    assert backend.rows() == 4
    server = start_server("gearmand-py", ["-t", "0", *backend.args()])
    try:
        assert sorted(drain(server, "moved", 4)) == [b"m%d" % i for i in range(4)]
    finally:
        server.stop()


def test_a_large_background_job_is_stored_and_replayed_whole(backend: Backend) -> None:
    """A job's data of a MiB or more reaches the server as a view of its receive buffer (it is
    not copied); the database gets and gives back every byte of it."""
    data = bytes(range(256)) * (3 * 1024 * 1024 // 256)
    server = start_server("gearmand-py", ["-t", "0", *backend.args()])
    try:
        submit_bg(Conn(server.address), "large", "-", data)
        submit_bg(Conn(server.address), "large", "", data[::-1])
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        restarted = start_server("gearmand-py", ["-t", "0", *backend.args()])
        try:
            assert drain(restarted, "large", 2) == [data, data[::-1]]
        finally:
            restarted.stop()
    finally:
        server.stop()
