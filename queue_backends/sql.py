"""``SqlQueue``: the persistent queue on any SQLAlchemy engine (SQLAlchemy Core, no ORM).

gearmand-py's table is keyed by the server-chosen ``id``, not by (unique, function) as gearmand's
is, so jobs with an empty or ``-`` unique do not overwrite each other. Every text-like column is
binary so any bytes a client sent round-trip exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Dialect, Engine

from .base import QueueError, StoredJob
from .migrate import prepare_table

REPLAY_BATCH = 1000  # rows fetched per round trip while replaying (server-side cursor)
DELETE_CHUNK = 1000  # ids per DELETE ... IN (...), well below every driver's parameter limit
DISPLAY_NAMES = {"sqlite": "SQLite", "mysql": "MySQL", "mariadb": "MySQL", "postgresql": "Postgres"}

# Drivers that send Python bytes as binary without a DBAPI Binary() wrapper.
_NATIVE_BYTES_DRIVERS = frozenset({"pysqlite", "psycopg2", "pymysql"})


class _NativeBytes(sa.types.TypeEngine[bytes]):
    """Skips SQLAlchemy's per-value Binary() wrapping where the driver does not need it: that
    wrapping (a copy, for PyMySQL) was most of add()'s CPU time, spent in the queue-writer
    thread while holding the GIL the server's other threads need."""

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.driver in _NATIVE_BYTES_DRIVERS:
            return None
        return super().bind_processor(dialect)


class _Blob(_NativeBytes, sa.LargeBinary):
    cache_ok = True


class _LongBlob(_NativeBytes, mysql.LONGBLOB):
    cache_ok = True


# MySQL's BLOB holds only 64 KiB (and non-strict modes truncate silently), so use LONGBLOB there.
_BYTES = _Blob().with_variant(_LongBlob(), "mysql", "mariadb")
# In SQLite only an INTEGER primary key is the rowid (a 64-bit integer, so BIGINT's range).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def queue_table(name: str) -> sa.Table:
    """gearmand-py's table layout (InnoDB on MySQL: the queue needs transactions)."""
    return sa.Table(
        name, sa.MetaData(),
        sa.Column("id", _ID, autoincrement=False),
        sa.Column("unique_key", _BYTES, nullable=False),
        sa.Column("function_name", _BYTES, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("data", _BYTES, nullable=False),
        sa.Column("when_to_run", sa.BigInteger, nullable=False),
        sa.Column("reducer", _BYTES, nullable=False),
        # Named after the table (not the temporary name a converted table is built under).
        sa.PrimaryKeyConstraint("id", name=f"{name}_pkey"),
        mysql_engine="InnoDB",
    )


def describe(exc: BaseException) -> str:
    """One readable line for a driver error: ``(code) message`` for MySQL-style errors, else the
    driver's text with its line breaks folded (libpq's messages span several lines)."""
    orig = getattr(exc, "orig", None) or exc
    args: tuple[Any, ...] = getattr(orig, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        text = f"({args[0]}) {args[1]}"
    elif args and isinstance(args[0], str):  # str() of SQLAlchemy's own errors adds a doc link
        text = args[0]
    else:
        text = str(orig) or type(orig).__name__
    return " ".join(text.split())


def create_engine(url: URL, connect_defaults: Mapping[str, Any] | None = None,
                  connect_args: Mapping[str, Any] | None = None) -> Engine:
    """An engine whose pool pings connections before use, so one broken by a database restart or
    a killed session is replaced on the next call. ``connect_defaults`` (timeouts) apply unless
    the URL's query or ``connect_args`` set them. A malformed URL or unknown dialect is a
    configuration error: ValueError."""
    args = {k: v for k, v in (connect_defaults or {}).items() if k not in url.query}
    args.update(connect_args or {})
    try:
        return sa.create_engine(url, pool_pre_ping=True, connect_args=args)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ValueError(f"cannot use queue database URL {url!r}: {exc}") from exc


class SqlQueue:
    """The QueueBackend protocol on an SQLAlchemy engine; every method is one transaction."""

    def __init__(self, engine: Engine, table: str) -> None:
        """Take ownership of ``engine``; create ``table``, or convert gearmand's table of that
        name (see ``migrate``). Raises QueueError (after disposing the engine) on failure."""
        self.engine = engine
        self.name = DISPLAY_NAMES.get(engine.dialect.name, engine.dialect.name)
        self.table = queue_table(table)
        try:
            with self._errors():
                prepare_table(engine, self.table)
        except QueueError:
            engine.dispose()
            raise

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLAlchemy/driver exceptions into QueueError with a short message."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise QueueError(f"{self.name}: {describe(exc)}") from exc

    def add(self, jobs: Sequence[StoredJob]) -> None:
        """One executemany INSERT, committed before returning."""
        if not jobs:
            return
        # A large job's data is a read-only view of the buffer it arrived in (bytes() of bytes
        # is the same object), which not every driver binds.
        rows = [{"id": j.id, "unique_key": j.unique, "function_name": j.function,
                 "priority": j.priority, "data": bytes(j.data), "when_to_run": j.when,
                 "reducer": j.reducer} for j in jobs]
        with self._errors(), self.engine.begin() as conn:
            conn.execute(sa.insert(self.table), rows)

    def done(self, ids: Sequence[int]) -> None:
        """DELETE ... WHERE id IN (...) in chunks, all in one transaction."""
        if not ids:
            return
        id_column = self.table.c.id
        with self._errors(), self.engine.begin() as conn:
            for start in range(0, len(ids), DELETE_CHUNK):
                chunk = list(ids[start:start + DELETE_CHUNK])
                conn.execute(sa.delete(self.table).where(id_column.in_(chunk)))

    def replay(self) -> Generator[StoredJob, None, None]:
        """Stream rows in id order through a server-side cursor, so a huge queue is never held in
        memory at once. The connection is held until the iterator is exhausted or closed."""
        t = self.table
        query = sa.select(t.c.id, t.c.unique_key, t.c.function_name, t.c.priority, t.c.data,
                          t.c.when_to_run, t.c.reducer).order_by(t.c.id)
        with self._errors(), self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=REPLAY_BATCH).execute(query):
                yield StoredJob(*row)

    def max_id(self) -> int:
        """The largest stored id (0 when empty)."""
        with self._errors(), self.engine.connect() as conn:
            return conn.scalar(sa.select(sa.func.max(self.table.c.id))) or 0

    def clear(self) -> None:
        """DELETE every row (not TRUNCATE: that is not transactional on MySQL)."""
        with self._errors(), self.engine.begin() as conn:
            conn.execute(sa.delete(self.table))

    def close(self) -> None:
        """Dispose of the engine's pooled connections."""
        self.engine.dispose()
