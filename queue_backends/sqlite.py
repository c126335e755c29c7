"""SQLite, gearmand's ``libsqlite3`` queue: ``--libsqlite3-db FILE``, ``--libsqlite3-table``.

WAL with synchronous=FULL: a job is on disk when add() returns (durability is the point of the
queue), and readers do not block the writer. The busy timeout is gearmand's 6 s.

Missing parent directories of the database file are created (gearmand leaves that to the user),
and a file that cannot be opened is reported with the path and the reason: SQLite itself says
only "unable to open database file".
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from .base import QueueError
from .base import Prepared
from .registry import SQLITE
from .sql import create_engine, sql_target

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

BUSY_TIMEOUT = 6.0  # seconds: gearmand calls sqlite3_busy_timeout(6000)


def prepare(settings: QueueConfig) -> Prepared:
    """The engine for ``--libsqlite3-db`` (required, as in gearmand)."""
    path = settings.options["libsqlite3_db"]
    if not path:
        raise ValueError("needs --libsqlite3-db FILE")
    return url_target(URL.create("sqlite", database=path), settings)


def url_target(url: URL, settings: QueueConfig) -> Prepared:
    """A SQLite URL, on ``--libsqlite3-table``; its file is handed to the -u user."""
    owned = None if url.database in (None, "", ":memory:") else url.database
    return sql_target(engine(url), settings.options["libsqlite3_table"], SQLITE.display, owned)


def engine(url: URL) -> Engine:
    """An engine with WAL, synchronous=FULL and transactional DDL (the table conversion needs
    it: Python's sqlite3 module would otherwise commit before each DDL statement)."""
    result = create_engine(url, {"timeout": BUSY_TIMEOUT})
    path = url.database
    if path and path != ":memory:" and "uri" not in url.query:
        # When connecting, not now: with -u the engine is made as root, the file by the user.
        event.listen(result, "do_connect", lambda *_args: prepare_file(path))
    event.listen(result, "connect", _on_connect)
    event.listen(result, "begin", _on_begin)
    return result


def prepare_file(path: str) -> None:
    """Create the directories leading to ``path``, then the file itself, as SQLite would; raise
    QueueError saying which path failed and why. SQLite also creates its ``-wal`` and ``-shm``
    files beside the database, so the directory must be writable too."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except FileExistsError as exc:  # a component is a file, not a directory
        raise QueueError(f"cannot create the directory {directory} for the database {path} "
                         f"({exc.filename} is not a directory)") from None
    except OSError as exc:
        raise QueueError(f"cannot create the directory {exc.filename or directory} for the "
                         f"database {path} ({exc.strerror})") from None
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o644))
    except OSError as exc:
        raise QueueError(f"cannot open the database {path} ({exc.strerror})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise QueueError(f"cannot write in {directory}, where SQLite keeps the database's -wal "
                         f"and -shm files ({os.strerror(errno.EACCES)})")


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Leave BEGIN to SQLAlchemy (see _on_begin) and set the durability pragmas."""
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=FULL")


def _on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")
