"""PostgreSQL, gearmand's ``Postgres`` queue, through psycopg2: ``--libpq-conninfo`` (a libpq
connection string, ``key=value ...`` or a ``postgresql://`` URI; empty means libpq's defaults and
PG* environment variables, as in gearmand) and ``--libpq-table`` (``queue``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg2
from psycopg2.extensions import parse_dsn
from sqlalchemy.engine import URL, Engine

from .base import Prepared
from .registry import POSTGRES
from .sql import create_engine, sql_target

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

CONNECT_TIMEOUT = 5  # seconds; libpq's connect_timeout covers the whole connection setup


def prepare(settings: QueueConfig) -> Prepared:
    """The engine for ``--libpq-conninfo``: parsed by libpq itself, then handed to psycopg2 as
    keyword arguments (so it is validated here, and a connect_timeout in it wins)."""
    try:
        params = parse_dsn(settings.options["libpq_conninfo"] or "")
    except psycopg2.ProgrammingError as exc:
        raise ValueError(f"invalid --libpq-conninfo: {' '.join(str(exc).split())}") from exc
    return _target(engine(URL.create("postgresql+psycopg2"), params), settings)


def url_target(url: URL, settings: QueueConfig) -> Prepared:
    """A PostgreSQL URL, on ``--libpq-table``."""
    return _target(engine(url), settings)


def _target(prepared: Engine, settings: QueueConfig) -> Prepared:
    """On ``--libpq-table``, lower-cased: gearmand puts it into SQL unquoted, where PostgreSQL
    folds it to lower case."""
    return sql_target(prepared, settings.options["libpq_table"].lower(), POSTGRES.display,
                      shared_lease=settings.shared_lease)


def engine(url: URL, connect_args: dict[str, Any] | None = None) -> Engine:
    """An engine with a short connect timeout (libpq drivers). A URL without a driver gets
    psycopg2, the one gearmand-py ships and tests (SQLAlchemy 2.1's default is psycopg 3)."""
    backend, _, driver = url.drivername.partition("+")
    if backend in POSTGRES.url_schemes:
        url = url.set(drivername=f"postgresql+{driver or 'psycopg2'}")
    defaults = {}
    if url.get_driver_name() in ("psycopg2", "psycopg"):
        defaults = {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(url, defaults, connect_args)
