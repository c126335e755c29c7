"""The real databases the queue-backend tests use, one unique table per test.

* MariaDB at 127.0.0.1:3306, user root without a password, database ``test``;
* PostgreSQL at 127.0.0.1:5432, user ``postgres`` (trust), database ``test``;
* SQLite in the test's tmp_path.

An unreachable service skips the test with the reason, except under ``CI=true`` where it fails.
Start them with ``start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`` and
``pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start``.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from tests.support.prerequisites import require
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gearmand_py.settings import Config, QueueConfig, parse_args
from queue_backends import open_backend
from queue_backends.sql import SqlQueue
from queue_backends.migrate import NEW_SUFFIX, OLD_SUFFIX
from queue_backends.sql import describe

KINDS = ("sqlite", "mysql", "postgres")
SERVER_KINDS = ("mysql", "postgres")
MYSQL_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
PG_CONNINFO = "host=127.0.0.1 port=5432 dbname=test user=postgres"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
START_HINTS = {
    "mysql": "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    "postgres": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
}
LOCK_TIMEOUT = 10  # s: a test that leaves a transaction open fails its cleanup instead of hanging
_unreachable: dict[str, str] = {}  # kind -> reason, so a down service costs one attempt per run



def settings(**overrides: Any) -> QueueConfig:
    """The queue settings of a command line without options, with ``overrides``."""
    return replaced(Config.from_options(parse_args(["--config-file", os.devnull])).queue,
                    **overrides)


def replaced(queue: QueueConfig, **overrides: Any) -> QueueConfig:
    """``queue`` with ``overrides`` of its fields (queue_type, queue_url) and backend options."""
    fields = {name: overrides.pop(name)
              for name in ("queue_type", "queue_url", "shared_queue", "shared_queue_lease")
              if name in overrides}
    assert set(overrides) <= set(queue.options), set(overrides) - set(queue.options)
    return dataclasses.replace(queue, **fields, options={**queue.options, **overrides})


@dataclass
class Database:
    """One backend kind with a fresh table name; ``admin`` is an independent plain engine on the
    same database for setting up and inspecting tables and for killing sessions."""

    kind: str
    table: str
    settings: QueueConfig
    admin: Engine
    opened: list[SqlQueue] = field(default_factory=list)

    @classmethod
    def create(cls, kind: str, tmp_path: Path) -> Database:
        """The database for ``kind``, or skip/fail when its service is unreachable."""
        require(kind not in _unreachable, _unreachable.get(kind, ""))
        table = f"gq_{uuid.uuid4().hex[:12]}"
        if kind == "sqlite":
            path = tmp_path / "queue.db"
            opts = settings(queue_type="libsqlite3", libsqlite3_db=str(path),
                            libsqlite3_table=table)
            admin = sa.create_engine(f"sqlite:///{path}")
        elif kind == "mysql":
            opts = settings(queue_type="MySQL", mysql_host="127.0.0.1", mysql_user="root",
                            mysql_db="test", mysql_table=table)
            admin = sa.create_engine(MYSQL_URL, connect_args={
                "connect_timeout": 5, "init_command": f"SET lock_wait_timeout = {LOCK_TIMEOUT}"})
        else:
            opts = settings(queue_type="Postgres", libpq_conninfo=PG_CONNINFO, libpq_table=table)
            admin = sa.create_engine(PG_URL, connect_args={
                "connect_timeout": 5, "options": f"-c lock_timeout={LOCK_TIMEOUT * 1000}"})
        try:
            with admin.connect():
                pass
        except sa.exc.DBAPIError as exc:
            admin.dispose()
            _unreachable[kind] = f"{kind} unreachable ({describe(exc)}); {START_HINTS[kind]}"
            require(False, _unreachable[kind])
        return cls(kind, table, opts, admin)

    def open(self, **overrides: Any) -> SqlQueue:
        """open_backend() on this database and table (closed again at teardown)."""
        queue = open_backend(replaced(self.settings, **overrides))
        assert isinstance(queue, SqlQueue)
        self.opened.append(queue)
        return queue

    def sql(self, statement: str, **params: Any) -> list[sa.Row[Any]]:
        """Run one statement through the admin engine and commit; rows if it returns any."""
        with self.admin.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return list(result) if result.returns_rows else []

    def tables(self) -> set[str]:
        """Table names in the database (only this test's are interesting)."""
        return set(sa.inspect(self.admin).get_table_names())

    def columns(self, table: str | None = None) -> list[str]:
        """Column names of this test's table."""
        return [c["name"] for c in sa.inspect(self.admin).get_columns(table or self.table)]

    def session_ids(self, queue: SqlQueue) -> list[int]:
        """Server session ids of every connection now idle in the queue's pool (checked out all
        at once, so these are exactly the pooled ones)."""
        query = "SELECT CONNECTION_ID()" if self.kind == "mysql" else "SELECT pg_backend_pid()"
        pool = queue.engine.pool
        assert isinstance(pool, sa.QueuePool)
        conns = [queue.engine.connect() for _ in range(pool.checkedin())]
        try:
            return [conn.exec_driver_sql(query).scalar_one() for conn in conns]
        finally:
            for conn in conns:
                conn.close()

    def session_state(self, session: int) -> str | None:
        """What the server says the session is doing (MariaDB: command; PostgreSQL: last query),
        None once it is gone."""
        if self.kind == "mysql":
            rows = self.sql("SELECT command FROM information_schema.processlist WHERE id = :id",
                            id=session)
        else:
            rows = self.sql("SELECT query FROM pg_stat_activity WHERE pid = :id", id=session)
        return rows[0][0] if rows else None

    def kill(self, sessions: list[int]) -> None:
        """Kill server sessions from the admin session, and wait until they are gone."""
        for session in sessions:
            if self.kind == "mysql":
                self.sql(f"KILL {int(session)}")
            else:
                self.sql("SELECT pg_terminate_backend(:id)", id=session)
        deadline = time.monotonic() + 5
        while any(self.session_state(s) is not None for s in sessions):
            assert time.monotonic() < deadline, f"sessions {sessions} still alive"
            time.sleep(0.02)

    def cleanup(self) -> None:
        """Close the queues this test opened and drop its tables."""
        for queue in self.opened:
            queue.close()
        with self.admin.begin() as conn:
            quote = conn.dialect.identifier_preparer.quote
            for name in (self.table, self.table + NEW_SUFFIX, self.table + OLD_SUFFIX,
                         self.table + "_peers"):  # a shared queue's peers table
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(name)}")
        self.admin.dispose()
