"""Failures become QueueError with a short message; killed connections are replaced by the next
call; a database that accepts connections but never answers fails promptly."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from queue_backends import QueueError, StoredJob, mysql, open_backend, postgres
from tests.queue_backends.dbs import SERVER_KINDS, Database, settings


def job(id: int) -> StoredJob:
    return StoredJob(id, b"u%d" % id, b"fn", 1, b"d%d" % id, 0)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_short_queue_error(exc: pytest.ExceptionInfo[QueueError], prefix: str) -> None:
    message = str(exc.value)
    assert message.startswith(prefix), message
    assert "\n" not in message and len(message) < 300, message
    assert not isinstance(exc.value, sa.exc.SQLAlchemyError)


def test_mysql_unreachable() -> None:
    port = closed_port()
    with pytest.raises(QueueError) as exc:
        open_backend(settings(queue_type="mysql", mysql_host="127.0.0.1", mysql_port=port,
                              mysql_user="root", mysql_db="test"))
    assert_short_queue_error(exc, "-q mysql: (2003) Can't connect to MySQL server on '127.0.0.1'")


def test_postgres_unreachable() -> None:
    port = closed_port()
    with pytest.raises(QueueError) as exc:
        open_backend(settings(queue_type="postgres", libpq_conninfo=f"host=127.0.0.1 port={port}"))
    assert_short_queue_error(exc, f'-q postgres: connection to server at "127.0.0.1", port {port} '
                                  "failed: Connection refused")


def test_sqlite_path_under_a_file(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.raises(QueueError) as exc:
        open_backend(settings(queue_type="libsqlite3", libsqlite3_db=f"{not_a_directory}/q.db"))
    assert_short_queue_error(exc, f"-q libsqlite3: cannot create the directory {not_a_directory} "
                                  f"for the database {not_a_directory}/q.db "
                                  f"({not_a_directory} is not a directory)")


def test_sqlite_missing_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "gearmand" / "queue.db"
    queue = open_backend(settings(queue_type="sqlite", libsqlite3_db=str(path)))
    assert queue is not None
    queue.close()
    assert path.is_file()


def test_operation_errors_after_open(db: Database) -> None:
    """The table vanishing under an open queue: every call fails with QueueError."""
    queue = db.open()
    queue.add([job(1)])
    db.sql(f"DROP TABLE {db.table}")
    for call in (lambda: queue.add([job(2)]), lambda: queue.done([1]), queue.max_id,
                 queue.clear, lambda: list(queue.replay())):
        with pytest.raises(QueueError) as exc:
            call()
        assert_short_queue_error(exc, f"{queue.name}: ")


def test_unknown_table_layout_is_left_alone(db: Database) -> None:
    db.sql(f"CREATE TABLE {db.table} (id INTEGER, name VARCHAR(10))")
    with pytest.raises(QueueError, match=r"neither gearmand-py's nor gearmand's .*id, name"):
        db.open()
    assert db.columns() == ["id", "name"]


@pytest.mark.parametrize("db", SERVER_KINDS, indirect=True)
def test_next_call_works_after_the_server_killed_the_connections(db: Database) -> None:
    queue = db.open()
    queue.add([job(1)])
    for operation in (lambda: queue.add([job(2)]), lambda: queue.done([1]), queue.max_id,
                      lambda: list(queue.replay()), queue.clear):
        sessions = db.session_ids(queue)
        assert sessions
        db.kill(sessions)
        operation()  # pool_pre_ping notices the dead connection and opens a new one
        assert not set(db.session_ids(queue)) & set(sessions)
    queue.add([job(3)])
    assert [j.id for j in queue.replay()] == [3]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never says anything (a hung database)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for sock in accepted:
        sock.close()
    listener.close()


def test_mysql_that_never_answers_fails_promptly(silent_server: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mysql, "IO_TIMEOUT", 1)
    started = time.monotonic()
    with pytest.raises(QueueError) as exc:
        open_backend(settings(queue_type="mysql", mysql_host="127.0.0.1", mysql_port=silent_server,
                              mysql_db="test"))
    assert time.monotonic() - started < 5
    assert_short_queue_error(exc, "-q mysql: (2013) Lost connection")


def test_postgres_that_never_answers_fails_promptly(silent_server: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "CONNECT_TIMEOUT", 1)  # libpq waits at least 2 s
    started = time.monotonic()
    with pytest.raises(QueueError) as exc:
        open_backend(settings(queue_type="postgres",
                              libpq_conninfo=f"host=127.0.0.1 port={silent_server}"))
    assert time.monotonic() - started < 5
    assert_short_queue_error(exc, "-q postgres: ")
    assert "timeout" in str(exc.value)
