"""Opening the queue table: create it, or convert the table gearmand 1.1.20 wrote.

Users point gearmand-py at gearmand's table (same option names, same defaults). gearmand keys rows
by (unique_key, function_name) and has no ``id`` column; such a table is rewritten into
gearmand-py's layout with ids 1..N in whatever order the database returns the rows (gearmand keeps
no order). Text columns are read back as the bytes gearmand stored, so non-ASCII uniques and
function names survive.

SQLite and PostgreSQL convert in one transaction. MySQL commits every DDL statement implicitly, so
there the copy goes to a new table first and an atomic ``RENAME TABLE`` swaps it in: a crash at any
point leaves either gearmand's complete table or the converted one under the configured name.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .base import QueueError

# Under gearmand-py's logger, so the warning goes to the server's --log-file/--syslog.
log = logging.getLogger("gearmand_py.queue")

# when_to_run is optional: gearmand's SQLite plugin adds it to tables from older versions.
GEARMAND_COLUMNS = frozenset({"unique_key", "function_name", "priority", "data"})
NEW_SUFFIX = "_gmpy_new"
OLD_SUFFIX = "_gmpy_old"


def prepare_table(engine: Engine, table: sa.Table) -> None:
    """Make ``table`` exist in gearmand-py's layout, converting gearmand's table if found."""
    mysql = engine.dialect.name in ("mysql", "mariadb")
    with engine.begin() as conn:
        columns = _columns(conn, table)
        if columns is None:
            table.create(conn)
            return
        if "owner" in columns and "owner" not in table.columns:
            raise QueueError(f"table {table.name!r} is a shared queue's (--shared-queue): "
                             f"without --shared-queue, name another table")
        if {c.name for c in table.columns} <= columns:
            return
        if "id" in columns or not GEARMAND_COLUMNS <= columns:
            raise QueueError(f"table {table.name!r} is neither gearmand-py's nor gearmand's queue "
                             f"table (columns: {', '.join(sorted(columns))})")
        jobs = None if mysql else _convert(conn, table, columns)
    if jobs is None:
        jobs = _convert_mysql(engine, table, columns)
    log.warning("Converted gearmand's queue table %r (%d jobs) to gearmand-py's layout; "
                "gearmand 1.1.20 can no longer read this table", table.name, jobs)


def _columns(conn: Connection, table: sa.Table) -> set[str] | None:
    """Lower-case column names of the existing table, or None when it does not exist."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(table.name):
        return None
    return {c["name"].lower() for c in inspector.get_columns(table.name)}


def _convert(conn: Connection, table: sa.Table, columns: set[str]) -> int:
    """Transactional DDL (SQLite, PostgreSQL): copy, drop gearmand's table, rename the copy."""
    new = table.to_metadata(sa.MetaData(), name=table.name + NEW_SUFFIX)
    new.drop(conn, checkfirst=True)
    new.create(conn)
    jobs = _copy(conn, table.name, new, columns)
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(f"DROP TABLE {quote(table.name)}")
    conn.exec_driver_sql(f"ALTER TABLE {quote(new.name)} RENAME TO {quote(table.name)}")
    return jobs


def _convert_mysql(engine: Engine, table: sa.Table, columns: set[str]) -> int:
    """MySQL: create and fill the copy, then swap both tables in one atomic RENAME TABLE."""
    new = table.to_metadata(sa.MetaData(), name=table.name + NEW_SUFFIX)
    old = table.name + OLD_SUFFIX
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:  # leftovers of an interrupted conversion are safe to drop
        new.drop(conn, checkfirst=True)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(old)}")
        new.create(conn)
    with engine.begin() as conn:
        jobs = _copy(conn, table.name, new, columns)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"RENAME TABLE {quote(table.name)} TO {quote(old)}, "
                             f"{quote(new.name)} TO {quote(table.name)}")
        conn.exec_driver_sql(f"DROP TABLE {quote(old)}")
    return jobs


def _copy(conn: Connection, source: str, target: sa.Table, columns: set[str]) -> int:
    """INSERT ... SELECT gearmand's rows with row_number() ids, all inside the database (no row
    passes through Python, so the table's size does not matter). Returns the row count."""
    old = sa.table(source, *(sa.column(name) for name in columns))
    empty = sa.literal(b"", sa.LargeBinary)
    when = sa.func.coalesce(old.c.when_to_run, 0) if "when_to_run" in columns else sa.literal(0)
    rows = sa.select(
        sa.func.row_number().over(),
        sa.func.coalesce(_text_bytes(conn, old.c.unique_key), empty),
        sa.func.coalesce(_text_bytes(conn, old.c.function_name), empty),
        sa.func.coalesce(old.c.priority, 1),
        sa.func.coalesce(sa.cast(old.c.data, sa.LargeBinary), empty),
        when,
        empty,
    )
    names = ["id", "unique_key", "function_name", "priority", "data", "when_to_run", "reducer"]
    conn.execute(sa.insert(target).from_select(names, rows))
    return conn.scalar(sa.select(sa.func.count()).select_from(target)) or 0


def _text_bytes(conn: Connection, column: sa.ColumnClause[Any]) -> sa.ColumnElement[Any]:
    """The bytes gearmand stored in a TEXT/VARCHAR column. SQLite's CAST AS BLOB and MySQL's
    CAST AS BINARY return the stored bytes (even invalid UTF-8 in SQLite); PostgreSQL's text to
    bytea cast would parse backslash escapes, so encode in the database encoding instead (the
    client encoding gearmand's libpq used by default)."""
    if conn.dialect.name == "postgresql":
        return sa.func.convert_to(column, sa.func.getdatabaseencoding())
    return sa.cast(column, sa.LargeBinary)
