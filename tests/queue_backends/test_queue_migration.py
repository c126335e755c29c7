"""Converting the table gearmand 1.1.20 wrote: built with gearmand's exact DDL (reference §4.2),
and written by Debian's /usr/sbin/gearmand itself."""

from __future__ import annotations

import logging
import os
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from queue_backends import StoredJob
from queue_backends.migrate import NEW_SUFFIX, OLD_SUFFIX
from tests.queue_backends.dbs import PG_CONNINFO, Database, require

GEARMAND = "/usr/sbin/gearmand"
GEARMAND_DDL = {
    "sqlite": "CREATE TABLE {t} ( unique_key TEXT, function_name TEXT, priority INTEGER, "
              "data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))",
    "postgres": "CREATE TABLE IF NOT EXISTS {t} (unique_key VARCHAR(64), function_name "
                "VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER, "
                "UNIQUE (unique_key, function_name))",
    "mysql": "CREATE TABLE {t}(unique_key VARCHAR(64), function_name VARCHAR(255), priority INT, "
             "data LONGBLOB, when_to_run INT, unique key (unique_key, function_name))",
}
# gearmand binds the bytes it got from the client as text; SQLite stores them unchecked.
GEARMAND_INSERT = {
    "sqlite": "INSERT OR REPLACE INTO {t} (priority, unique_key, function_name, data, when_to_run)"
              " VALUES (:p, CAST(:u AS TEXT), CAST(:f AS TEXT), :d, :w)",
    "postgres": "INSERT INTO {t} (priority, unique_key, function_name, data, when_to_run) "
                "VALUES (:p, :u, :f, :d, :w)",
    "mysql": "INSERT INTO {t} (unique_key, function_name, priority, data, when_to_run) "
             "VALUES (:u, :f, :p, :d, :w)",
}
# (unique, function, priority, data, when_to_run) as gearmand stores them; None data is NULL.
ROWS = [
    (b"-", b"sq2", 1, b"BBB", 0),
    (b"", b"sq2", 1, b"DDD", 0),
    ("h\u00e9llo \u2603".encode(), "f\u00fcnc".encode(), 0, b"\x00\xff binary\x00", 0),
    (b"epoch", b"fn", 2, None, 2_000_000_000),
    (b"a\\x41\\\\b", b"back\\slash", 1, b"\\x41", 0),  # PostgreSQL's bytea escapes must not apply
    (b"trailing ", b"fn", 1, b"", 0),
]
NOT_UTF8 = (b"\xff\xfe", b"f\x80", 1, b"x", 0)  # only SQLite accepts these as text


def converted(rows: list[tuple[bytes, bytes, int, bytes | None, int]]) -> list[tuple]:
    """What replay() should give for gearmand's rows, ignoring the (arbitrary) id order."""
    return sorted((u, f, p, d or b"", w, b"") for u, f, p, d, w in rows)


def check_converted(db: Database, queue_log: list[logging.LogRecord],
                    expected: list[tuple]) -> None:
    """Open the queue on gearmand's table and check the conversion and what it leaves behind."""
    queue = db.open()
    jobs = list(queue.replay())
    assert [j.id for j in jobs] == list(range(1, len(expected) + 1))
    assert sorted(tuple(j)[1:] for j in jobs) == expected
    warnings = [r.getMessage() for r in queue_log if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and db.table in warnings[0], warnings
    assert f"({len(expected)} jobs)" in warnings[0]
    assert "gearmand 1.1.20 can no longer read" in warnings[0]
    assert db.columns() == ["id", "unique_key", "function_name", "priority", "data",
                            "when_to_run", "reducer"]
    assert not db.tables() & {db.table + NEW_SUFFIX, db.table + OLD_SUFFIX}
    if db.kind == "postgres":
        assert sa.inspect(db.admin).get_pk_constraint(db.table)["name"] == f"{db.table}_pkey"

    queue.close()
    queue_log.clear()
    reopened = db.open()  # already converted: nothing to do
    assert not queue_log
    assert reopened.max_id() == len(expected)
    reopened.add([StoredJob(len(expected) + 1, b"-", b"sq2", 1, b"new", 0)])
    reopened.done([1])
    assert [j.id for j in reopened.replay()] == list(range(2, len(expected) + 2))


def create_gearmand_table(db: Database, rows: list[tuple]) -> None:
    db.sql(GEARMAND_DDL[db.kind].format(t=db.table))
    for u, f, p, d, w in rows:
        text: dict = {"u": u, "f": f} if db.kind == "sqlite" else {"u": u.decode(), "f": f.decode()}
        db.sql(GEARMAND_INSERT[db.kind].format(t=db.table), p=p, d=d, w=w, **text)


def test_convert_table_from_gearmand_ddl(db: Database, queue_log: list[logging.LogRecord]) -> None:
    rows = ROWS + [NOT_UTF8] if db.kind == "sqlite" else ROWS
    create_gearmand_table(db, rows)
    check_converted(db, queue_log, converted(rows))


def test_convert_empty_gearmand_table(db: Database, queue_log: list[logging.LogRecord]) -> None:
    create_gearmand_table(db, [])
    check_converted(db, queue_log, [])


def test_leftover_of_an_interrupted_conversion_is_replaced(
        db: Database, queue_log: list[logging.LogRecord]) -> None:
    """A half-filled copy (MySQL can be interrupted between its steps) does not get in the way."""
    create_gearmand_table(db, ROWS)
    db.sql(f"CREATE TABLE {db.table}{NEW_SUFFIX} (id INTEGER)")
    db.sql(f"INSERT INTO {db.table}{NEW_SUFFIX} (id) VALUES (1)")
    check_converted(db, queue_log, converted(ROWS))


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_convert_sqlite_table_from_before_when_to_run(
        db: Database, queue_log: list[logging.LogRecord]) -> None:
    """gearmand's SQLite plugin ALTERs older tables to add when_to_run; they convert with 0."""
    db.sql(f"CREATE TABLE {db.table} (unique_key TEXT, function_name TEXT, priority INTEGER, "
           "data BLOB, PRIMARY KEY (unique_key, function_name))")
    db.sql(f"INSERT INTO {db.table} VALUES ('k', 'fn', 2, x'00ff')")
    check_converted(db, queue_log, [(b"k", b"fn", 2, b"\x00\xff", 0, b"")])


# --- tables written by the real gearmand 1.1.20 -------------------------------------------------

SUBMIT_JOB_BG, SUBMIT_JOB_HIGH_BG, SUBMIT_JOB_LOW_BG, SUBMIT_JOB_EPOCH = 18, 32, 34, 36
JOB_CREATED = 8


def gearmand_queue_options(db: Database) -> list[str]:
    """gearmand's options for the test's database and table."""
    if db.kind == "sqlite":
        return ["-q", "libsqlite3", "--libsqlite3-db", db.settings.options["libsqlite3_db"],
                "--libsqlite3-table", db.table]
    if db.kind == "mysql":
        return ["-q", "MySQL", "--mysql-host", "127.0.0.1", "--mysql-user", "root",
                "--mysql-db", "test", "--mysql-table", db.table]
    return ["-q", "Postgres", "--libpq-conninfo", PG_CONNINFO, "--libpq-table", db.table]


def submit_all(port: int, packets: list[tuple[int, list[bytes]]]) -> None:
    """Send each request over one raw connection; every one must get JOB_CREATED."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for kind, args in packets:
            body = b"\0".join(args)
            sock.sendall(b"\0REQ" + struct.pack(">II", kind, len(body)) + body)
            magic, reply, size = struct.unpack(">4sII", reader.read(12))
            payload = reader.read(size)
            assert (magic, reply) == (b"\0RES", JOB_CREATED), (args, reply, payload)


def run_gearmand(db: Database, tmp_path: Path, packets: list[tuple[int, list[bytes]]]) -> None:
    """Start gearmand on the test's table, submit ``packets``, stop it (SIGTERM) again."""
    require(os.access(GEARMAND, os.X_OK),
            f"{GEARMAND} missing (apt-get install gearman-job-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [GEARMAND, *gearmand_queue_options(db), "-u", "root", "-L", "127.0.0.1",
               "-p", str(port), "--log-file", "none", "--pid-file", str(tmp_path / "gearmand.pid")]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gearmand did not start listening"
                time.sleep(0.02)
        submit_all(port, packets)
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_convert_table_written_by_gearmand(db: Database, tmp_path: Path,
                                           queue_log: list[logging.LogRecord]) -> None:
    epoch = int(time.time()) + 3600
    jobs = [  # (packet type, function, unique, data, priority, when_to_run)
        (SUBMIT_JOB_BG, b"fn", b"k1", b"\x00data\xff", 1, 0),
        (SUBMIT_JOB_HIGH_BG, b"fn", b"k2", b"high", 0, 0),
        (SUBMIT_JOB_LOW_BG, "f\u00fcnc".encode(), "h\u00e9llo".encode(), b"low", 2, 0),
        (SUBMIT_JOB_BG, b"fn2", b"-", b"dash", 1, 0),
        (SUBMIT_JOB_BG, b"fn3", b"", b"empty unique", 1, 0),
        (SUBMIT_JOB_BG, b"fn", b"a\\x41", b"\\x41", 1, 0),
        (SUBMIT_JOB_EPOCH, b"fn", b"k3", b"later", 1, epoch),
    ]
    if db.kind == "sqlite":
        jobs.append((SUBMIT_JOB_BG, b"fn", b"\xff\xfe", b"not utf-8 unique", 1, 0))
    packets = [(kind, [f, u, str(when).encode(), d] if kind == SUBMIT_JOB_EPOCH else [f, u, d])
               for kind, f, u, d, _, when in jobs]
    run_gearmand(db, tmp_path, packets)
    assert set(db.columns()) == {"unique_key", "function_name", "priority", "data", "when_to_run"}
    check_converted(db, queue_log, sorted((u, f, p, d, w, b"") for _, f, u, d, p, w in jobs))
