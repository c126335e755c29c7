"""Persistent queue backends and the registry that opens one from the server's settings.

``-q/--queue-type`` takes gearmand's names (any case) or short aliases; ``--queue-url`` takes any
SQLAlchemy URL. ``open_backend`` raises ValueError for bad settings and QueueError when the
database cannot be opened or its table prepared; either message starts with the option that
chose the database (``--queue-url: ...``, ``-q mysql: ...``), so startup can print it as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from . import mysql, postgres, sqlite
from .base import QueueBackend, QueueError, StoredJob
from .sql import SqlQueue, create_engine

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

__all__ = ["QUEUE_TYPES", "QueueBackend", "QueueError", "SqlQueue", "StoredJob", "database_file",
           "connect", "open_backend", "queue_engine", "queue_type"]

# Accepted -q names (lower case; matched case-insensitively) -> gearmand's name for the backend.
QUEUE_TYPES: dict[str, str] = {
    "builtin": "builtin",
    "libsqlite3": "libsqlite3",
    "sqlite": "libsqlite3",
    "mysql": "MySQL",
    "postgres": "Postgres",
    "postgresql": "Postgres",
}
_MODULES = {"libsqlite3": sqlite, "MySQL": mysql, "Postgres": postgres}
URL_DEFAULT_TABLE = "gearman_queue"  # for --queue-url dialects other than the three above


def queue_type(name: str) -> str:
    """gearmand's name for a ``-q`` value; ValueError naming the supported types otherwise."""
    try:
        return QUEUE_TYPES[name.lower()]
    except KeyError:
        raise ValueError(f"unsupported queue type {name!r}; gearmand-py supports "
                         f"{_supported()} (any case)") from None


def _supported() -> str:
    """'builtin, libsqlite3 (or sqlite), ...' for error messages."""
    names = []
    for kind in dict.fromkeys(QUEUE_TYPES.values()):
        aliases = [alias for alias, k in QUEUE_TYPES.items() if k == kind and alias != kind]
        names.append(f"{kind} (or {', '.join(aliases)})" if aliases else kind)
    return ", ".join(names)


def open_backend(settings: QueueConfig) -> QueueBackend | None:
    """The backend the settings ask for, opened and with its table ready; None for builtin (no
    persistence) without --queue-url."""
    target = queue_engine(settings)
    return None if target is None else connect(settings, target)


def queue_engine(settings: QueueConfig) -> tuple[Engine, str] | None:
    """The engine and table the settings ask for, not connected yet; None for builtin (no
    persistence) without --queue-url. A --queue-url chooses the database; -q may then be builtin
    or must name the URL's kind. Making the engine loads the drivers, so -u makes it before
    dropping root (the user may not be allowed to read them)."""
    kind = queue_type(settings.queue_type)
    url = settings.queue_url
    if url:
        with _blamed("--queue-url"):
            return _url_engine(url, kind, settings)
    if kind == "builtin":
        return None
    module = _MODULES[kind]
    with _blamed(f"-q {settings.queue_type}"):
        return module.from_settings(settings), module.table(settings)


def connect(settings: QueueConfig, target: tuple[Engine, str]) -> SqlQueue:
    """The backend on ``queue_engine``'s engine: connected, its table ready (as the user the
    server runs as)."""
    with _blamed("--queue-url" if settings.queue_url else f"-q {settings.queue_type}"):
        return SqlQueue(*target)


@contextlib.contextmanager
def _blamed(option: str) -> Iterator[None]:
    """Start the message of a ValueError or QueueError raised inside with ``option``: the
    messages below say what failed, this says which setting to look at."""
    try:
        yield
    except QueueError as exc:
        raise QueueError(f"{option}: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from exc


def database_file(settings: QueueConfig) -> str | None:
    """The SQLite file the settings name, if any: -u hands it to the user before switching."""
    if not settings.queue_url:
        return settings.libsqlite3_db if queue_type(settings.queue_type) == "libsqlite3" else None
    try:
        url = make_url(settings.queue_url)
    except (ArgumentError, ValueError):
        return None  # open_backend says what is wrong with it
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def _url_engine(text: str, kind: str, settings: QueueConfig) -> tuple[Engine, str]:
    """--queue-url: the backend module matching the URL's dialect supplies timeouts and the
    table option; other dialects get a plain engine and table ``gearman_queue``."""
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:  # ValueError: e.g. a non-numeric port
        raise ValueError(f"not a database URL ({exc})") from exc
    backend = url.get_backend_name()
    module = next((m for m in _MODULES.values() if backend in m.DIALECTS), None)
    if kind != "builtin" and _MODULES[kind] is not module:
        raise ValueError(f"a {backend} URL, but --queue-type is {kind}")
    if module is None:
        return create_engine(url), URL_DEFAULT_TABLE
    return module.engine(url), module.table(settings)
