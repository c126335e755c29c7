"""Every queue backend gearmand has, declared once: its ``-q`` name and aliases, its options (which
``gearmand_py.settings`` renders into the command line, the config file and
``conf/gearmand.conf``), and the module that opens it.

Only the standard library is imported here, so parsing a command line loads no database driver;
a backend's module, and with it its driver, is imported when the server opens that backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: gearmand's default table name of its SQLite and MySQL queues.
GEARMAN_QUEUE = "gearman_queue"
BUILTIN = "builtin"  # no persistence


@dataclass(frozen=True)
class Option:
    """One option of a backend, named and worded as gearmand 1.1.20 has it."""

    name: str  # the settings attribute
    flag: str
    help: str
    meta: str | None = None  # None: a switch without a value
    default: Any = None
    port: bool = False  # the value is a TCP port, 1..65535


@dataclass(frozen=True)
class Backend:
    """One ``-q`` queue type. ``module`` has ``prepare(settings)``, which makes the backend ready
    to open (drivers loaded, nothing connected yet); ``None`` means gearmand-py cannot offer it,
    and ``unavailable`` says why and what to use instead."""

    name: str  # gearmand's name
    display: str  # in log lines and error messages
    section: str  # gearmand's --help group
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    module: str | None = None
    url_schemes: tuple[str, ...] = ()  # the --queue-url dialects that choose it
    driver: str = ""  # the module of a driver that is an extra, not always installed
    extra: str = ""  # ... and the extra that installs it: pip install 'gearmand-py[EXTRA]'
    unavailable: str = ""


MEMCACHED = Backend(
    "libmemcached", "memcached", "libmemcached", (
        Option("libmemcached_servers", "--libmemcached-servers",
               "List of Memcached servers to use (host[:port], comma-separated). Not durable: "
               "memcached evicts and forgets jobs.", meta="SERVERS"),
        Option("libmemcached_prefix", "--libmemcached-prefix", "Prefix to use in memcached keys",
               meta="PREFIX", default="gear_"),
    ), module="queue_backends.memcached",
    driver="pymemcache", extra="memcached")

SQLITE = Backend(
    "libsqlite3", "SQLite", "libsqlite3", (
        Option("libsqlite3_db", "--libsqlite3-db", "Database file to use.", meta="FILE"),
        # gearmand declares it with its SQLite queue; gearmand-py applies it to every backend.
        Option("store_queue_on_shutdown", "--store-queue-on-shutdown", "Store queue on shutdown.",
               default=False),
        Option("libsqlite3_table", "--libsqlite3-table", "Table to use.", meta="TABLE",
               default=GEARMAN_QUEUE),
    ), aliases=("sqlite",), module="queue_backends.sqlite", url_schemes=("sqlite",))

POSTGRES = Backend(
    "Postgres", "Postgres", "Postgres", (
        Option("libpq_conninfo", "--libpq-conninfo", "PostgreSQL connection information string.",
               meta="CONNINFO"),
        Option("libpq_table", "--libpq-table", "Table to use.", meta="TABLE", default="queue"),
    ), aliases=("postgres", "postgresql"), module="queue_backends.postgres",
    # "postgres" is libpq's other URI scheme; SQLAlchemy knows only "postgresql".
    url_schemes=("postgresql", "postgres"))

REDIS = Backend(
    "redis", "Redis", "redis", (
        Option("redis_server", "--redis-server", "Redis server (default 127.0.0.1, as gearmand)",
               meta="HOST"),
        Option("redis_port", "--redis-port", "Redis server port/service (default 6379)",
               meta="PORT"),
        Option("redis_password", "--redis-password", "Redis server password/service",
               meta="PASSWORD"),
        Option("redis_prefix", "--redis-prefix",
               "Prefix to use in redis keys (default _gear_, as gearmand)", meta="PREFIX"),
    ), module="queue_backends.redis_queue",
    driver="redis", extra="redis")

MYSQL = Backend(
    "MySQL", "MySQL", "MySQL", (
        Option("mysql_host", "--mysql-host", "MySQL host.", meta="HOST", default="localhost"),
        Option("mysql_port", "--mysql-port", "Port of server.", meta="PORT", default=3306,
               port=True),
        Option("mysql_user", "--mysql-user", "MySQL user.", meta="USER"),
        Option("mysql_password", "--mysql-password", "MySQL user password.", meta="PASSWORD"),
        Option("mysql_db", "--mysql-db", "MySQL database.", meta="DATABASE"),
        Option("mysql_table", "--mysql-table", "MySQL table name.", meta="TABLE",
               default=GEARMAN_QUEUE),
    ), aliases=("mysql",), module="queue_backends.mysql", url_schemes=("mysql", "mariadb"))

TOKYO_CABINET = Backend(
    "libtokyocabinet", "Tokyo Cabinet", "libtokyocabinet",
    unavailable="gearmand-py has no Tokyo Cabinet queue (no maintained Python binding builds "
                "against libtokyocabinet; Debian's gearmand lacks it too); for a queue in a "
                "local file use -q libsqlite3 --libsqlite3-db FILE")

#: In gearmand's --help order; Tokyo Cabinet last (Debian's gearmand is built without it).
BACKENDS: tuple[Backend, ...] = (MEMCACHED, SQLITE, POSTGRES, REDIS, MYSQL, TOKYO_CABINET)
#: The backends several servers can share (``--shared-queue``): row locks with SKIP LOCKED.
SHAREABLE = (POSTGRES, MYSQL)


def find(name: str) -> Backend | None:
    """The backend a ``-q`` value names (any case), None for builtin; ValueError naming the
    types there are when it names none."""
    wanted = name.lower()
    if wanted == BUILTIN:
        return None
    for backend in BACKENDS:
        if wanted == backend.name.lower() or wanted in backend.aliases:
            return backend
    raise ValueError(f"Unknown queue {name!r} (gearmand-py has {described_types()}, in any "
                     f"case)")


def described_types() -> str:
    """'builtin, libmemcached, libsqlite3 (or sqlite), ...': the types gearmand-py can open."""
    names = [BUILTIN]
    for backend in BACKENDS:
        if backend.module is not None:
            aliases = [a for a in backend.aliases if a != backend.name]
            names.append(f"{backend.name} (or {', '.join(aliases)})" if aliases
                         else backend.name)
    return ", ".join(names)


def by_scheme(scheme: str) -> Backend | None:
    """The backend whose dialect a --queue-url names, if any."""
    return next((b for b in BACKENDS if scheme in b.url_schemes), None)
