"""``SqlQueue``: the persistent queue on any SQLAlchemy engine (SQLAlchemy Core, no ORM).

gearmand-py's table is keyed by the server-chosen ``id``, not by (unique, function) as gearmand's
is, so jobs with an empty or ``-`` unique do not overwrite each other. Every text-like column is
binary so any bytes a client sent round-trip exactly.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError

from . import registry
from .base import Prepared, QueueError, StoredJob
from .migrate import prepare_table

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

log = logging.getLogger("gearmand_py.queue")

REPLAY_BATCH = 1000  # rows fetched per round trip while replaying (server-side cursor)
DELETE_CHUNK = 1000  # ids per DELETE ... IN (...), well below every driver's parameter limit
STATEMENT_OVERHEAD = 1024  # bytes of an INSERT around one row's values
URL_DEFAULT_TABLE = registry.GEARMAN_QUEUE  # for --queue-url dialects without a backend here

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


def queue_table(name: str, *extra: sa.SchemaItem) -> sa.Table:
    """gearmand-py's table layout (InnoDB on MySQL: the queue needs transactions), with
    ``extra`` columns and indexes (the shared queue's)."""
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
        *extra,
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
    the URL's query or ``connect_args`` set them. An unknown dialect or driver, one that is not
    installed, or an asyncio driver (the queue writer is a plain thread) is a configuration
    error: ValueError."""
    args = {k: v for k, v in (connect_defaults or {}).items() if k not in url.query}
    args.update(connect_args or {})
    try:
        engine = sa.create_engine(url, pool_pre_ping=True, connect_args=args)
    except sa.exc.NoSuchModuleError as exc:
        raise ValueError(f"SQLAlchemy has no database driver {url.drivername!r} "
                         f"({describe(exc)})") from exc
    except ImportError as exc:
        raise ValueError(f"the {_driver(url)} driver is not installed ({exc}); gearmand-py "
                         f"ships PyMySQL (mysql://) and psycopg2 (postgresql://)") from exc
    except sa.exc.ArgumentError as exc:
        raise ValueError(describe(exc)) from exc
    except (TypeError, ValueError) as exc:  # a URL query value of the wrong type
        raise ValueError(f"invalid connection options ({exc})") from exc
    if engine.dialect.is_async:
        engine.dispose()
        raise ValueError(f"the {_driver(url)} driver is for asyncio; name a synchronous one, "
                         f"such as mysql+pymysql:// or postgresql+psycopg2://")
    return engine


def _driver(url: URL) -> str:
    """``dialect+driver`` as SQLAlchemy resolves it, e.g. ``postgresql+psycopg`` for a plain
    ``postgresql://`` URL."""
    try:
        return f"{url.get_backend_name()}+{url.get_dialect().driver}"
    except (sa.exc.NoSuchModuleError, ImportError):
        return url.drivername


# What a failed INSERT raises: SQLAlchemy's errors, and the OverflowError SQLite's driver raises
# outside SQLAlchemy's wrapping for an int over 64 bits.
_INSERT_ERRORS = (sa.exc.SQLAlchemyError, OverflowError)


def _row_fault(exc: BaseException) -> bool:
    """Whether a failed INSERT may be a row's fault rather than the database's state: a value
    the driver cannot convert or the database refuses (out of range, duplicate id), or the
    server dropping the connection on what it was sent (MariaDB does that to a statement over
    max_allowed_packet; were the database down, the reconnect for the next part fails, and
    that is no row's fault). A timeout is the database's state: trying part by part would
    cost one timeout each."""
    if isinstance(exc, (sa.exc.DataError, sa.exc.IntegrityError, OverflowError)):
        return True
    return (isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
            and not _timed_out(exc))


def _timed_out(exc: sa.exc.DBAPIError) -> bool:
    """Whether the driver error arose from a socket timeout (PyMySQL's read_timeout)."""
    cause: BaseException | None = exc.orig
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def sql_target(engine: Engine, table: str, name: str, owned_file: str | None = None,
               shared_lease: int | None = None) -> Prepared:
    """A prepared SQL backend: its engine (drivers loaded, not connected) and table; with
    ``shared_lease``, the shared queue on them (PostgreSQL and MySQL only)."""
    if shared_lease is None:
        return Prepared(lambda: SqlQueue(engine, table, name), engine.dispose, owned_file)
    from .shared import DIALECTS, SharedStore
    if engine.dialect.name not in DIALECTS:
        engine.dispose()
        raise ValueError(f"--shared-queue needs a PostgreSQL or MySQL/MariaDB queue, not "
                         f"{name}")
    return Prepared(lambda: SharedStore(engine, table, name, shared_lease), engine.dispose)


def prepare_url(settings: QueueConfig, chosen: registry.Backend | None) -> Prepared:
    """--queue-url: the backend matching the URL's dialect supplies timeouts and the table
    option; other dialects get a plain engine and table ``gearman_queue``. ``chosen`` is what -q
    names (None: builtin), which must then be the URL's kind."""
    try:
        url = make_url(settings.queue_url or "")
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a non-numeric port
        raise ValueError(f"not a database URL ({exc})") from exc
    scheme = url.get_backend_name()
    backend = registry.by_scheme(scheme)
    if chosen is not None and chosen is not backend:
        raise ValueError(f"a {scheme} URL, but --queue-type is {chosen.name}")
    if backend is None or backend.module is None:
        return sql_target(create_engine(url), URL_DEFAULT_TABLE, scheme,
                          shared_lease=settings.shared_lease)
    if settings.shared_queue and backend not in registry.SHAREABLE:
        raise ValueError(f"--shared-queue needs a PostgreSQL or MySQL/MariaDB URL, not {scheme}")
    module = importlib.import_module(backend.module)
    return module.url_target(url, settings)


def _statement_limit(engine: Engine) -> int | None:
    """MariaDB's/MySQL's max_allowed_packet, read at startup (a later SET GLOBAL is not seen),
    None for databases without such a limit below gearmand-py's."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        return None
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one())


def _connect_once(engine: Engine) -> None:
    """Connect (the connection stays pooled for what follows). A driver checks its keyword
    arguments, which a URL's query supplies, only here, with TypeError or ValueError rather than
    its own errors: ValueError naming the driver."""
    try:
        engine.connect().close()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the {engine.dialect.driver} driver refused the connection options "
                         f"({exc})") from exc


class SqlQueue:
    """The QueueBackend protocol on an SQLAlchemy engine; every method is one transaction, but
    ``add`` when it has to sort refused rows out."""

    def __init__(self, engine: Engine, table: str, name: str) -> None:
        """Take ownership of ``engine``; create ``table``, or convert gearmand's table of that
        name (see ``migrate``); ``name`` is the backend's, for messages. On failure the engine is
        disposed of and QueueError raised, or ValueError when the driver refused the connection
        options (say an unknown or malformed URL query parameter); their messages leave the
        naming of the settings to the caller."""
        self.engine = engine
        self.name = name
        self.table = self._layout(table)
        try:
            _connect_once(engine)
            self._prepare()
            self.statement_limit = _statement_limit(engine)
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            raise QueueError(describe(exc)) from exc
        except (QueueError, ValueError):
            engine.dispose()
            raise

    def _layout(self, table: str) -> sa.Table:
        return queue_table(table)

    def _prepare(self) -> None:
        prepare_table(self.engine, self.table)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLAlchemy/driver exceptions into QueueError with a short message."""
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise QueueError(self._message(exc)) from exc

    def _message(self, exc: BaseException) -> str:
        return f"{self.name}: {describe(exc)}"

    def add(self, jobs: Sequence[StoredJob]) -> dict[int, str]:
        """One executemany INSERT, committed before returning; only when it fails with what may
        be a row's fault are the rows sorted out (``_isolate``). A job that cannot fit in one
        statement is refused without being sent (MariaDB would drop the connection)."""
        too_big = self._too_big(jobs)
        rows = [self._row(j) for j in jobs if j.id not in too_big]
        if not rows:
            return too_big
        try:
            self._insert(rows)
        except _INSERT_ERRORS as exc:
            if not _row_fault(exc):
                raise QueueError(self._message(exc)) from exc
            return {**too_big, **self._isolate(rows, exc)}
        return too_big

    @staticmethod
    def _row(job: StoredJob) -> dict[str, Any]:
        # A large job's data is a read-only view of the buffer it arrived in (bytes() of bytes
        # is the same object), which not every driver binds.
        return {"id": job.id, "unique_key": job.unique, "function_name": job.function,
                "priority": job.priority, "data": bytes(job.data), "when_to_run": job.when,
                "reducer": job.reducer}

    def _insert_statement(self) -> Any:
        return sa.insert(self.table)

    def _too_big(self, jobs: Sequence[StoredJob]) -> dict[int, str]:
        """{id: why} for the jobs whose bytes alone exceed the database's statement limit."""
        limit = self.statement_limit
        if limit is None:
            return {}
        return {j.id: f"{self.name}: a job of {size} bytes is over the database's "
                      f"max_allowed_packet ({limit} bytes); raise max_allowed_packet to store it"
                for j in jobs
                if (size := len(j.data) + len(j.unique) + len(j.function) + len(j.reducer))
                > limit - STATEMENT_OVERHEAD}

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """INSERT ``rows`` in one transaction. Not getting a connection (the pool pings it first)
        is the database being unavailable: QueueError; what the INSERT raises is passed on. A
        connection lost during COMMIT leaves the outcome open: ``_committed`` settles it."""
        with self._errors():
            conn = self.engine.connect()
        with conn:
            transaction = conn.begin()
            conn.execute(self._insert_statement(), rows)
            try:
                transaction.commit()
            except sa.exc.DBAPIError as exc:
                if not exc.connection_invalidated or not self._committed(rows, exc):
                    raise

    def _committed(self, rows: list[dict[str, Any]], failure: sa.exc.DBAPIError) -> bool:
        """Whether the rows of a COMMIT whose answer was lost are stored, asked on a new
        connection: all of them (the database committed) or none (it did not; the caller goes on
        with ``failure``). When the database cannot be asked, nobody knows: QueueError saying
        so, since the jobs may be stored and then run after a restart."""
        ids = [row["id"] for row in rows]
        count = sa.select(sa.func.count()).select_from(self.table)
        try:
            with self.engine.connect() as conn:
                found = sum(conn.scalar(count.where(self.table.c.id.in_(chunk))) or 0
                            for chunk in (ids[i:i + DELETE_CHUNK]
                                          for i in range(0, len(ids), DELETE_CHUNK)))
        except sa.exc.SQLAlchemyError as exc:
            raise QueueError(f"{self.name}: the connection was lost during COMMIT "
                             f"({describe(failure)}) and the database cannot be asked whether "
                             f"the jobs were stored ({describe(exc)}); they may run after a "
                             f"restart") from exc
        if found:
            log.warning("%s: the connection was lost during COMMIT (%s); the %d jobs were found "
                        "stored", self.name, describe(failure), found)
        return found == len(ids)

    def _isolate(self, rows: list[dict[str, Any]], failure: BaseException) -> dict[int, str]:
        """After ``rows`` failed together with ``failure``: store every row the database takes
        and return {id: why} for the others. A failing part is split in halves, each tried in its
        own transaction, so one bad row among N costs about 2*log2(N) INSERTs, not N commits,
        and a row is refused only when it fails alone. An error that is no row's fault (say the
        reconnect fails: the database really went away) ends this at once, for every row not
        stored yet."""
        refused: dict[int, str] = {}
        stored: set[int] = set()
        failed = [(rows, failure)]  # parts that failed together, and how
        while failed:
            part, error = failed.pop()
            if len(part) == 1:
                refused[part[0]["id"]] = self._message(error)
                continue
            half = len(part) // 2
            for piece in (part[half:], part[:half]):
                try:
                    self._insert(piece)
                except (QueueError, *_INSERT_ERRORS) as exc:
                    if not _row_fault(exc):
                        reason = str(exc) if isinstance(exc, QueueError) else self._message(exc)
                        return {row["id"]: refused.get(row["id"], reason) for row in rows
                                if row["id"] not in stored}
                    failed.append((piece, exc))
                else:
                    stored.update(row["id"] for row in piece)
        return refused

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

    def ping(self) -> None:
        with self._errors(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def clear(self) -> None:
        """DELETE every row (not TRUNCATE: that is not transactional on MySQL)."""
        with self._errors(), self.engine.begin() as conn:
            conn.execute(sa.delete(self.table))

    def close(self) -> None:
        """Dispose of the engine's pooled connections."""
        self.engine.dispose()
