"""MySQL/MariaDB, gearmand's ``MySQL`` queue, through PyMySQL: ``--mysql-host`` (localhost),
``--mysql-port`` (3306), ``--mysql-user``, ``--mysql-password``, ``--mysql-db``, ``--mysql-table``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, Engine

from .sql import create_engine

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

DIALECTS = ("mysql", "mariadb")
DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"  # Debian's; libmysqlclient honours MYSQL_UNIX_PORT
CONNECT_TIMEOUT = 5  # seconds
# PyMySQL reads the server greeting without any timeout unless read_timeout is set, so a server
# that accepts connections but never answers would hang the queue writer for good.
IO_TIMEOUT = 60  # seconds per socket read/write; generous, the longest statement is the migration


def table(settings: QueueConfig) -> str:
    """``--mysql-table``."""
    return settings.mysql_table


def from_settings(settings: QueueConfig) -> Engine:
    """The engine for gearmand's MySQL options. Like libmysqlclient, host ``localhost`` means the
    Unix socket (so e.g. unix_socket authentication works as it did for gearmand); use
    127.0.0.1 for TCP."""
    if not settings.mysql_db:
        raise ValueError("needs --mysql-db NAME, the database that holds the queue table "
                         "(MySQL: No database selected)")
    host = settings.mysql_host
    query = {}
    if host == "localhost":
        query["unix_socket"] = os.environ.get("MYSQL_UNIX_PORT", DEFAULT_SOCKET)
    url = URL.create(
        "mysql+pymysql", host=host, port=settings.mysql_port,
        username=settings.mysql_user or None,
        password=settings.mysql_password or None,
        database=settings.mysql_db, query=query)
    return engine(url)


def engine(url: URL) -> Engine:
    """An engine with short connect and I/O timeouts (for the drivers that take them). A URL
    without a driver gets PyMySQL (SQLAlchemy's default, mysqlclient, is not a dependency)."""
    if not url.database:
        raise ValueError(f"the URL names no database ({url.drivername}://USER@HOST/DATABASE)")
    if url.drivername in DIALECTS:
        url = url.set(drivername=f"{url.drivername}+pymysql")
    defaults = {}
    if url.get_driver_name() in ("pymysql", "mysqldb"):
        defaults = {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": IO_TIMEOUT,
                    "write_timeout": IO_TIMEOUT}
    return create_engine(url, defaults)
