"""SQLite, gearmand's ``libsqlite3`` queue: ``--libsqlite3-db FILE``, ``--libsqlite3-table``.

WAL with synchronous=FULL: a job is on disk when add() returns (durability is the point of the
queue), and readers do not block the writer. The busy timeout is gearmand's 6 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from .sql import create_engine

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

DIALECTS = ("sqlite",)
BUSY_TIMEOUT = 6.0  # seconds: gearmand calls sqlite3_busy_timeout(6000)


def table(settings: QueueConfig) -> str:
    """``--libsqlite3-table``."""
    return settings.libsqlite3_table


def from_settings(settings: QueueConfig) -> Engine:
    """The engine for ``--libsqlite3-db`` (required, as in gearmand)."""
    path = settings.libsqlite3_db
    if not path:
        raise ValueError("the libsqlite3 queue needs --libsqlite3-db FILE")
    return engine(URL.create("sqlite", database=path))


def engine(url: URL) -> Engine:
    """An engine with WAL, synchronous=FULL and transactional DDL (the table conversion needs
    it: Python's sqlite3 module would otherwise commit before each DDL statement)."""
    result = create_engine(url, {"timeout": BUSY_TIMEOUT})
    event.listen(result, "connect", _on_connect)
    event.listen(result, "begin", _on_begin)
    return result


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    """Leave BEGIN to SQLAlchemy (see _on_begin) and set the durability pragmas."""
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=FULL")


def _on_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")
