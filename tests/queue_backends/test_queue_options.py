"""The registry: -q names, gearmand's backend options, --queue-url, and per-backend settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import queue_backends
from queue_backends import QueueError, base, open_backend, registry
from queue_backends.sql import SqlQueue
from tests.queue_backends.dbs import MYSQL_URL, PG_URL, Database, require, settings


def test_reexports_the_interface() -> None:
    assert queue_backends.StoredJob is base.StoredJob
    assert queue_backends.QueueError is base.QueueError
    assert queue_backends.QueueBackend is base.QueueBackend


@pytest.mark.parametrize(("name", "kind"), [
    ("builtin", "builtin"), ("BUILTIN", "builtin"),
    ("libsqlite3", "libsqlite3"), ("LibSQLite3", "libsqlite3"), ("sqlite", "libsqlite3"),
    ("MySQL", "MySQL"), ("mysql", "MySQL"),
    ("Postgres", "Postgres"), ("postgres", "Postgres"), ("PostgreSQL", "Postgres"),
    ("redis", "redis"), ("Redis", "redis"), ("libmemcached", "libmemcached"),
])
def test_queue_type_names(name: str, kind: str) -> None:
    found = registry.find(name)
    assert (found.name if found else "builtin") == kind


@pytest.mark.parametrize("name", ["libdrizzle", "tokyo", ""])
def test_unknown_queue_type_names_the_known_ones(name: str) -> None:
    with pytest.raises(ValueError, match=r"builtin, libmemcached, libsqlite3 \(or sqlite\), "
                                         r"Postgres \(or postgres, postgresql\), redis, "
                                         r"MySQL \(or mysql\), in any case\)$"):
        open_backend(settings(queue_type=name or "x"))


def test_tokyo_cabinet_is_refused_naming_the_alternative() -> None:
    with pytest.raises(ValueError, match=r"^-q libtokyocabinet: gearmand-py has no Tokyo Cabinet "
                                         r"queue .* use -q libsqlite3 --libsqlite3-db FILE$"):
        open_backend(settings(queue_type="libtokyocabinet"))


def test_builtin_is_no_persistence() -> None:
    assert open_backend(settings()) is None
    assert open_backend(settings(queue_type="Builtin", queue_url=None)) is None


def test_libsqlite3_needs_a_database_file() -> None:
    with pytest.raises(ValueError, match="^-q libsqlite3: needs --libsqlite3-db FILE$"):
        open_backend(settings(queue_type="libsqlite3"))


def test_mysql_needs_a_database() -> None:
    """gearmand fails with MySQL's "No database selected"; here the message names --mysql-db."""
    with pytest.raises(ValueError, match=r"^-q mysql: needs --mysql-db NAME.*No database selected"):
        open_backend(settings(queue_type="mysql", mysql_host="127.0.0.1", mysql_user="root"))
    with pytest.raises(ValueError, match=r"^--queue-url: the URL names no database"):
        open_backend(settings(queue_url="mysql://root@127.0.0.1/"))


def test_invalid_conninfo_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="^-q Postgres: invalid --libpq-conninfo: "):
        open_backend(settings(queue_type="Postgres", libpq_conninfo="host"))


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://x/y", "mysql://h:port/db"])
def test_invalid_queue_url_is_a_settings_error(url: str) -> None:
    with pytest.raises(ValueError, match="^--queue-url: "):
        open_backend(settings(queue_url=url))


@pytest.mark.parametrize("url, message", [
    ("postgresql+pg8000://u@h/db", "the postgresql+pg8000 driver is not installed "
                                   "(No module named 'pg8000')"),
    ("mysql+mysqldb://u@h/db", "the mysql+mysqldb driver is not installed"),
    ("postgresql+nosuch://u@h/db", "SQLAlchemy has no database driver 'postgresql+nosuch'"),
    ("mysql://root@127.0.0.1/test?connect_timeout=abc", "invalid connection options"),
])
def test_unusable_driver_is_named(url: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        open_backend(settings(queue_url=url))
    assert str(exc.value).startswith(f"--queue-url: {message}"), exc.value


def test_queue_url_must_match_an_explicit_queue_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^--queue-url: a sqlite URL, but --queue-type is MySQL"):
        open_backend(settings(queue_type="mysql", queue_url=f"sqlite:///{tmp_path}/q.db"))


def test_queue_url_sqlite_uses_the_libsqlite3_table_and_pragmas(tmp_path: Path) -> None:
    queue = open_backend(settings(queue_url=f"sqlite:///{tmp_path}/q.db", libsqlite3_table="jobs"))
    assert isinstance(queue, SqlQueue)
    try:
        assert (queue.name, queue.table.name) == ("SQLite", "jobs")
        check_sqlite_pragmas(queue)
    finally:
        queue.close()


def check_sqlite_pragmas(queue: SqlQueue) -> None:
    with queue.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 6000


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_sqlite_settings(db: Database) -> None:
    queue = db.open()
    check_sqlite_pragmas(queue)
    queue.add([base.StoredJob(42, b"u", b"f", 1, b"d", 0)])
    with queue.engine.connect() as conn:  # id is the rowid: no second index to maintain
        assert conn.exec_driver_sql(f"SELECT rowid FROM {db.table}").scalar() == 42


@pytest.mark.parametrize("db", ["mysql"], indirect=True)
def test_mysql_localhost_means_the_unix_socket(db: Database,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """As with libmysqlclient (gearmand's default --mysql-host localhost)."""
    require(os.path.exists("/run/mysqld/mysqld.sock"), "MariaDB's socket /run/mysqld/mysqld.sock")
    queue = db.open(mysql_host="localhost")
    assert queue.engine.url.query["unix_socket"] == "/run/mysqld/mysqld.sock"
    assert queue.max_id() == 0
    monkeypatch.setenv("MYSQL_UNIX_PORT", "/nonexistent/mysqld.sock")
    with pytest.raises(QueueError, match=r"^-q MySQL: \(2003\) .*'localhost'"):
        db.open(mysql_host="localhost")


@pytest.mark.parametrize("db", ["mysql"], indirect=True)
@pytest.mark.parametrize("url", [MYSQL_URL, "mysql://root@127.0.0.1/test?connect_timeout=3",
                                 "mariadb://root@127.0.0.1/test"])
def test_queue_url_mysql_uses_the_mysql_table(db: Database, url: str) -> None:
    """A URL without a driver gets PyMySQL; a timeout in the URL overrides the default."""
    queue = db.open(queue_type="builtin", queue_url=url)
    assert (queue.name, queue.table.name) == ("MySQL", db.table)
    assert queue.engine.url.get_driver_name() == "pymysql"
    assert queue.max_id() == 0


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
@pytest.mark.parametrize("url", [PG_URL, "postgresql://postgres@127.0.0.1/test",
                                 "postgres://postgres@127.0.0.1/test?connect_timeout=3"])
def test_queue_url_postgres_uses_the_libpq_table(db: Database, url: str) -> None:
    """A URL without a driver gets psycopg2, which gearmand-py ships (SQLAlchemy 2.1 would pick
    psycopg 3); ``postgres://`` is libpq's other spelling."""
    queue = db.open(queue_type="postgresql", queue_url=url)
    assert (queue.name, queue.table.name) == ("Postgres", db.table)
    assert queue.engine.url.drivername == "postgresql+psycopg2"
    assert queue.max_id() == 0


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_postgres_conninfo_forms(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """key=value, a URI, and empty (libpq's defaults: PG* environment variables); the table name
    is folded to lower case like gearmand's unquoted SQL."""
    db.open(libpq_conninfo="postgresql://postgres@127.0.0.1:5432/test?connect_timeout=3").close()
    for name, value in {"PGHOST": "127.0.0.1", "PGUSER": "postgres", "PGDATABASE": "test"}.items():
        monkeypatch.setenv(name, value)
    queue = db.open(libpq_conninfo="", libpq_table=db.table.upper())
    assert queue.table.name == db.table
    assert queue.max_id() == 0
