"""A row the database refuses fails alone: add() stores every other row of its batch and reports
only that one, while an unavailable database still fails the whole batch at once."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from queue_backends import QueueError, mysql
from queue_backends.sql import SqlQueue
from tests.queue_backends.dbs import SERVER_KINDS, Database
from tests.queue_backends.test_queue_behaviour import job
from tests.support.tcp_proxy import TcpProxy

OVER_INT64 = 10**19  # when_to_run is a signed 64-bit column everywhere
OVER_MAX_ALLOWED_PACKET = 20 << 20  # MariaDB's default max_allowed_packet is 16 MiB


def stored_ids(queue: SqlQueue) -> list[int]:
    return [j.id for j in queue.replay()]


@pytest.fixture
def proxy(db: Database) -> Iterator[TcpProxy]:
    """A proxy to the test's MariaDB or PostgreSQL, up."""
    proxy = TcpProxy(("127.0.0.1", 3306 if db.kind == "mysql" else 5432))
    proxy.up()
    yield proxy
    proxy.down()


def open_through(db: Database, proxy: TcpProxy) -> SqlQueue:
    """The test's queue, connecting through ``proxy``."""
    if db.kind == "mysql":
        return db.open(mysql_port=proxy.port)
    return db.open(libpq_conninfo=f"host=127.0.0.1 port={proxy.port} dbname=test user=postgres")


def test_rows_the_database_refuses_fail_alone(db: Database) -> None:
    queue = db.open()
    queue.add([job(5)])  # so job 5 in the batch is a duplicate id
    batch = [job(i) for i in range(1, 101)]
    batch[36] = job(37, when=OVER_INT64)  # no INTEGER/BIGINT column holds it
    refused = queue.add(batch)
    assert sorted(refused) == [5, 37]
    assert all(reason.startswith(f"{queue.name}: ") for reason in refused.values()), refused
    assert stored_ids(queue) == [i for i in range(1, 101) if i != 37]
    assert queue.add([job(200)]) == {}
    assert max(stored_ids(queue)) == 200


def test_a_batch_of_refused_rows_stores_nothing(db: Database) -> None:
    queue = db.open()
    refused = queue.add([job(i, when=OVER_INT64) for i in range(1, 8)])
    assert sorted(refused) == list(range(1, 8))
    assert list(queue.replay()) == []


@pytest.mark.parametrize("db", ["mysql"], indirect=True)
def test_mysql_row_over_max_allowed_packet_fails_alone_unsent(db: Database) -> None:
    """Checked against the server's max_allowed_packet before MariaDB drops the connection."""
    queue = db.open()
    limit = db.sql("SELECT @@max_allowed_packet")[0][0]
    batch = [job(i) for i in range(1, 41)]
    batch[19] = job(20, data=b"x" * OVER_MAX_ALLOWED_PACKET)
    refused = queue.add(batch)
    assert refused == {20: f"MySQL: a job of {OVER_MAX_ALLOWED_PACKET + 5} bytes is over the "
                           f"database's max_allowed_packet ({limit} bytes); raise "
                           "max_allowed_packet to store it"}
    assert stored_ids(queue) == [i for i in range(1, 41) if i != 20]


@pytest.mark.parametrize("db", ["mysql"], indirect=True)
def test_mysql_statement_over_max_allowed_packet_once_escaped_fails_alone(db: Database) -> None:
    """Under the limit, but not once escaped (a NUL is sent as two bytes): MariaDB drops the
    connection on that statement; the database is still up, so that is the row's fault, and
    the rows before and after it are stored."""
    queue = db.open()
    limit = db.sql("SELECT @@max_allowed_packet")[0][0]
    batch = [job(i) for i in range(1, 41)]
    batch[19] = job(20, data=b"\0" * (limit * 3 // 4))
    refused = queue.add(batch)
    assert list(refused) == [20]
    assert refused[20].startswith("MySQL: (2006) MySQL server has gone away"), refused
    assert stored_ids(queue) == [i for i in range(1, 41) if i != 20]


@pytest.mark.parametrize("db", SERVER_KINDS, indirect=True)
def test_unreachable_database_fails_the_whole_batch_at_once(db: Database,
                                                            proxy: TcpProxy) -> None:
    """A lost connection that cannot be regained is the database's fault, not a row's: QueueError
    for the batch (not a refusal per row after trying each)."""
    queue = open_through(db, proxy)
    queue.add([job(1)])
    proxy.down()
    with pytest.raises(QueueError, match=f"^{queue.name}: "):
        queue.add([job(i) for i in range(2, 50)])
    proxy.up()
    assert queue.add([job(50)]) == {}
    assert stored_ids(queue) == [1, 50]


@pytest.mark.parametrize("db", ["mysql"], indirect=True)
def test_mysql_statement_timeout_fails_the_whole_batch_at_once(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that stops answering mid-INSERT (here: the table locked by another session)
    would time out once per part if the batch were split: one QueueError instead."""
    monkeypatch.setattr(mysql, "IO_TIMEOUT", 1)
    queue = db.open()
    queue.add([job(1)])
    locker = db.admin.connect()
    try:
        locker.exec_driver_sql(f"LOCK TABLES {db.table} WRITE")
        with pytest.raises(QueueError, match=r"^MySQL: \(2013\) Lost connection .*timed out"):
            queue.add([job(i) for i in range(2, 10)])
        locker.exec_driver_sql("UNLOCK TABLES")
    finally:
        locker.close()
    assert queue.add([job(10)]) == {}
    assert stored_ids(queue) == [1, 10]


@pytest.mark.parametrize("db", SERVER_KINDS, indirect=True)
def test_database_lost_while_refused_rows_are_sorted_out(db: Database,
                                                         proxy: TcpProxy) -> None:
    """The database goes away right after refusing a row: every row not stored yet fails with
    the outage at once (not one reconnect per part), and none is stored."""
    queue = open_through(db, proxy)
    queue.add([job(1)])
    errors: list[sa.engine.ExceptionContext] = []

    def outage(context: sa.engine.ExceptionContext) -> None:
        errors.append(context)
        proxy.down()

    sa.event.listen(queue.engine, "handle_error", outage)
    batch = [job(i) for i in range(2, 40)]
    batch[5] = job(7, when=OVER_INT64)
    refused = queue.add(batch)
    assert sorted(refused) == list(range(2, 40))
    reasons = set(refused.values())
    assert len(reasons) == 1, reasons
    assert re.search(r"Can't connect|connection to server .* failed", reasons.pop())
    assert len(errors) <= 3, errors  # the refusal, then one reconnect (the pool's ping, connect)
    proxy.up()
    assert stored_ids(queue) == [1]


@pytest.mark.parametrize("db", SERVER_KINDS, indirect=True)
def test_a_commit_whose_answer_is_lost_is_found_stored(
        db: Database, proxy: TcpProxy, queue_log: list[logging.LogRecord]) -> None:
    """The database commits, the connection is cut before its answer arrives: the rows are
    looked for on a new connection, found, and the jobs are acknowledged (not QUEUE_ERROR for
    jobs that would run after a restart)."""
    queue = open_through(db, proxy)
    proxy.drop_reply_to(b"COMMIT")
    assert queue.add([job(1), job(2)]) == {}
    assert stored_ids(queue) == [1, 2]
    assert [r.getMessage().split(" (")[0] for r in queue_log] == [
        f"{queue.name}: the connection was lost during COMMIT"]
    assert queue_log[0].getMessage().endswith("; the 2 jobs were found stored")
