"""MySQL/MariaDB, gearmand's ``MySQL`` queue, through PyMySQL: ``--mysql-host`` (localhost),
``--mysql-port`` (3306), ``--mysql-user``, ``--mysql-password``, ``--mysql-db``, ``--mysql-table``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, Engine

from .base import Prepared
from .registry import MYSQL
from .sql import create_engine, sql_target

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"  # Debian's; libmysqlclient honours MYSQL_UNIX_PORT
CONNECT_TIMEOUT = 5  # seconds
# PyMySQL reads the server greeting without any timeout unless read_timeout is set, so a server
# that accepts connections but never answers would hang the queue writer for good.
IO_TIMEOUT = 60  # seconds per socket read/write; generous, the longest statement is the migration


def prepare(settings: QueueConfig) -> Prepared:
    """The engine for gearmand's MySQL options. Like libmysqlclient, host ``localhost`` means the
    Unix socket (so e.g. unix_socket authentication works as it did for gearmand); use
    127.0.0.1 for TCP."""
    options = settings.options
    if not options["mysql_db"]:
        raise ValueError("needs --mysql-db NAME, the database that holds the queue table "
                         "(MySQL: No database selected)")
    host = options["mysql_host"]
    query = {}
    if host == "localhost":
        query["unix_socket"] = os.environ.get("MYSQL_UNIX_PORT", DEFAULT_SOCKET)
    url = URL.create(
        "mysql+pymysql", host=host, port=options["mysql_port"],
        username=options["mysql_user"] or None,
        password=options["mysql_password"] or None,
        database=options["mysql_db"], query=query)
    return url_target(url, settings)


def url_target(url: URL, settings: QueueConfig) -> Prepared:
    """A MySQL URL (or gearmand's options made one), on ``--mysql-table``."""
    return sql_target(engine(url), settings.options["mysql_table"], MYSQL.display,
                      shared_lease=settings.shared_lease)


def engine(url: URL) -> Engine:
    """An engine with short connect and I/O timeouts (for the drivers that take them). A URL
    without a driver gets PyMySQL (SQLAlchemy's default, mysqlclient, is not a dependency)."""
    if not url.database:
        raise ValueError(f"the URL names no database ({url.drivername}://USER@HOST/DATABASE)")
    if url.drivername in MYSQL.url_schemes:
        url = url.set(drivername=f"{url.drivername}+pymysql")
    defaults = {}
    if url.get_driver_name() in ("pymysql", "mysqldb"):
        defaults = {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": IO_TIMEOUT,
                    "write_timeout": IO_TIMEOUT}
    return create_engine(url, defaults)
