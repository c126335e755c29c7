"""The shared queue: several servers on one PostgreSQL or MySQL/MariaDB table (``--shared-queue``).

A row says which server holds its job (``owner``, a member id from the peers table) and until
when (``lease_until``). Times are the database's clock (``_NOW``), so the servers' clocks need
not agree. The rules:

- A server joins by inserting its row in ``<table>_peers``; its member id goes into its job
  handles and row ids, so both are unique across servers.
- A background job is inserted either held by the server it was submitted to (its workers will
  take it soon) or held by nobody. A server claims rows held by nobody, for functions its
  workers can do, in priority then submission order, with ``FOR UPDATE SKIP LOCKED`` so two
  servers claiming at once never take the same row.
- Every heartbeat renews the leases of the rows the server holds and gives back rows whose lease
  ran out (their server died or lost the database): one UPDATE, so each row is given back once.
- ``attempts`` counts the times a worker started the job, so ``-j`` holds across servers.
- A (function, unique) that coalesces has a ``coalesce_key`` (a hash: uniques are bytes of any
  length) under a unique index: a second submit of it on any server adds no row.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Engine

from .base import QueueError, StoredJob
from .sql import _BYTES, DELETE_CHUNK, SqlQueue, queue_table

log = logging.getLogger("gearmand_py.queue")

#: Heartbeats per lease: a server renews its rows this often, so one late heartbeat loses none.
BEATS_PER_LEASE = 4
#: Rows claimed in one statement at most.
CLAIM_LIMIT = 1000
#: Bits of a row id below the member id (a server makes up to 2**40 jobs per run).
MEMBER_SHIFT = 40
#: The database's clock in epoch seconds, per dialect.
_NOW = {"postgresql": "extract(epoch from clock_timestamp())::float8",
        "mysql": "UNIX_TIMESTAMP(NOW(6))", "mariadb": "UNIX_TIMESTAMP(NOW(6))"}
#: Dialects a shared queue runs on (they have SKIP LOCKED and row-level locks).
DIALECTS = frozenset(_NOW)
#: A SHA-256 digest. Claims find rows by the digest of their function name: MySQL indexes only
#: a prefix of a blob, and such an index cannot give the claim's order, so the database would
#: sort, and lock, every row of the function instead of the few it takes.
_HASH = sa.LargeBinary(32).with_variant(mysql.BINARY(32), "mysql", "mariadb")


class Entry(NamedTuple):
    """A new background job for the shared table: its row, its handle, and whether the
    submitting server holds it (False: any server may claim it)."""

    row: StoredJob
    handle: bytes
    held: bool


class Added(NamedTuple):
    """What ``add`` did beyond storing: rows refused (id -> why) and rows that coalesced onto a
    job already in the table (id -> that job's handle)."""

    refused: Mapping[int, str]
    coalesced: Mapping[int, bytes]


class Claimed(NamedTuple):
    """A row this server now holds."""

    row: StoredJob
    handle: bytes
    attempts: int


def coalesce_key(job: StoredJob) -> bytes | None:
    """The hash a job coalesces by, None if it never does (the engine's rule: an empty unique
    never does, ``-`` keys on the data)."""
    if job.unique == b"-":
        if not job.data:
            return None
        key = b"-\0" + bytes(job.data)
    elif job.unique:
        key = b"u\0" + job.unique
    else:
        return None
    return hashlib.sha256(job.function + b"\0" + key).digest()


def shared_table(name: str) -> sa.Table:
    """The shared layout: the single-server columns plus who holds each row and until when."""
    return queue_table(
        name,
        sa.Column("handle", _BYTES, nullable=False),
        sa.Column("coalesce_key", _HASH),
        sa.Column("function_key", _HASH, nullable=False),
        sa.Column("owner", sa.BigInteger),
        sa.Column("lease_until", sa.Float(53)),
        sa.Column("submitted", sa.Float(53), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Index(f"{name}_coalesce", "coalesce_key", unique=True),
        sa.Index(f"{name}_claim", "owner", "function_key", "priority", "submitted", "id"),
        sa.Index(f"{name}_lease", "lease_until"),
    )


def peers_table(name: str) -> sa.Table:
    """One row per live server."""
    return sa.Table(
        f"{name}_peers", sa.MetaData(),
        sa.Column("member", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("heartbeat", sa.Float(53), nullable=False),
        mysql_engine="InnoDB",
    )


class SharedStore(SqlQueue):
    """The shared table on an SQLAlchemy engine, for one member. ``add`` and ``done`` work as in
    ``SqlQueue`` (one transaction, refused rows sorted out); the rest is the sharing."""

    def __init__(self, engine: Engine, table: str, name: str, lease: int) -> None:
        self.lease = lease
        self.peers = peers_table(table)
        self.member = 0
        self._offset = 0.0
        #: While ``add_shared`` runs: the shared columns of each row, by id.
        self._extra: dict[int, dict[str, Any]] = {}
        super().__init__(engine, table, name)
        dialect = engine.dialect.name
        self._now = sa.literal_column(_NOW[dialect], sa.Float(53))
        self._postgres = dialect == "postgresql"
        #: Whether other servers' NOTIFYs can be heard (``listen``); MySQL servers poll.
        self.notifies = self._postgres
        self.channel = f"gearman_{table}"
        # Orders that let each database read the claim index in order rather than sort, and
        # lock, every row of the function: PostgreSQL needs owner (NULL throughout) named,
        # MariaDB must not have it.
        t = self.table
        self._claim_order = ((t.c.owner,) if self._postgres else ()) + (
            t.c.priority, t.c.submitted, t.c.id)

    # -- layout --------------------------------------------------------------------------------

    def _layout(self, table: str) -> sa.Table:
        return shared_table(table)

    def _prepare(self) -> None:
        """Create both tables; refuse a single-server table of the same name."""
        with self.engine.begin() as conn:
            inspector = sa.inspect(conn)
            if inspector.has_table(self.table.name):
                columns = {c["name"].lower() for c in inspector.get_columns(self.table.name)}
                if "owner" not in columns:
                    raise QueueError(
                        f"table {self.table.name!r} is a single-server queue table; a shared "
                        f"queue needs a table of its own (name another one), or run its jobs "
                        f"out without --shared-queue first")
            self.table.create(conn, checkfirst=True)
            self.peers.create(conn, checkfirst=True)

    # -- membership ----------------------------------------------------------------------------

    def clock(self) -> float:
        """The database's time now, from this host's clock and their difference as last read
        (rows get their times in executemany parameters, where no SQL expression goes)."""
        return time.time() + self._offset

    def _read_offset(self, conn: sa.Connection) -> None:
        self._offset = conn.scalar(sa.select(self._now)) - time.time()

    def join(self, host: str, pid: int) -> int:
        """Register this server; its member id."""
        with self._errors(), self.engine.begin() as conn:
            self._read_offset(conn)
            result = conn.execute(sa.insert(self.peers).values(
                host=host[:255], pid=pid, heartbeat=self._now))
            self.member = int(result.inserted_primary_key[0])
        return self.member

    def heartbeat(self) -> tuple[int, int]:
        """Say this server lives, renew the leases of its rows, give back the rows whose lease
        ran out and forget the servers gone a lease ago. Returns (rows renewed, rows given
        back)."""
        t, peers, now = self.table, self.peers, self._now
        with self._errors(), self.engine.begin() as conn:
            self._read_offset(conn)
            conn.execute(sa.update(peers).where(peers.c.member == self.member)
                         .values(heartbeat=now))
            renewed = conn.execute(sa.update(t).where(t.c.owner == self.member)
                                   .values(lease_until=now + self.lease)).rowcount
        with self._errors(), self.engine.begin() as conn:
            released = conn.execute(
                sa.update(t).where(t.c.owner.is_not(None), t.c.owner != self.member,
                                   t.c.lease_until < now)
                .values(owner=None, lease_until=None)).rowcount
            conn.execute(sa.delete(peers).where(peers.c.member != self.member,
                                                peers.c.heartbeat < now - self.lease))
            if released:
                self._notify(conn)
        if released:
            log.warning("%s: %d jobs of servers whose lease ran out are runnable again",
                        self.name, released)
        return renewed, released

    def leave(self) -> None:
        """Give back every row this server holds and leave the peers table."""
        t, peers = self.table, self.peers
        with self._errors(), self.engine.begin() as conn:
            released = conn.execute(sa.update(t).where(t.c.owner == self.member)
                                    .values(owner=None, lease_until=None)).rowcount
            conn.execute(sa.delete(peers).where(peers.c.member == self.member))
            if released:
                self._notify(conn)
        if released:
            log.info("%s: gave %d jobs back to the shared queue", self.name, released)

    # -- jobs ----------------------------------------------------------------------------------

    def add_shared(self, entries: Sequence[Entry]) -> Added:
        """Store the new jobs (as ``add``); a job whose coalesce key is taken adds no row and
        comes back with the handle of the job that holds the key."""
        now = self.clock()
        rows = {}
        keys = {}
        for row, handle, held in entries:
            key = coalesce_key(row)
            keys[row.id] = key
            rows[row.id] = {"handle": handle, "coalesce_key": key, "submitted": now,
                            "function_key": hashlib.sha256(row.function).digest(),
                            "owner": self.member if held else None,
                            "lease_until": now + self.lease if held else None}
        self._extra = rows
        try:
            refused = self.add([entry.row for entry in entries])
        finally:
            self._extra = {}
        # The rows are committed: what follows must not fail them (their clients would be told
        # QUEUE_ERROR for jobs that run). Without the answer, none is taken as coalesced.
        stored = [i for i in rows if i not in refused]
        coalesced: Mapping[int, bytes] = {}
        try:
            if any(keys[i] for i in stored):
                coalesced = self._coalesced(stored, keys)
            if any(not entry.held and entry.row.id not in refused
                   and entry.row.id not in coalesced for entry in entries):
                with self._errors(), self.engine.begin() as conn:
                    self._notify(conn)
        except QueueError as exc:
            log.warning("%s: after storing %d jobs: %s", self.name, len(stored), exc)
        return Added(refused, coalesced)

    def _row(self, job: StoredJob) -> dict[str, Any]:
        row = super()._row(job)
        row.update(self._extra[job.id])
        return row

    def _insert_statement(self) -> Any:
        if self._postgres:
            return postgresql.insert(self.table).on_conflict_do_nothing()
        statement = mysql.insert(self.table)
        return statement.on_duplicate_key_update(id=self.table.c.id)

    def _coalesced(self, ids: list[int], keys: Mapping[int, bytes | None]) -> dict[int, bytes]:
        """Of the rows just added, those that found their coalesce key taken: id -> the handle
        of the row that has it (their own handle if that job ended meanwhile)."""
        t = self.table
        with self._errors(), self.engine.connect() as conn:
            present = {row[0] for row in conn.execute(sa.select(t.c.id).where(t.c.id.in_(ids)))}
            missing = {keys[i]: i for i in ids if i not in present and keys[i] is not None}
            if not missing:
                return {}
            found = dict(conn.execute(sa.select(t.c.coalesce_key, t.c.handle)
                                      .where(t.c.coalesce_key.in_(list(missing)))).all())
        return {i: bytes(found[key]) if key in found else b"" for key, i in missing.items()}

    def apply(self, started: Sequence[int] = (), done: Sequence[int] = (),
              released: Sequence[int] = (),
              demand: Mapping[bytes, int] | None = None) -> list[Claimed]:
        """One transaction (one commit: a worker waits for its finished job's): count an attempt
        for each job a worker started, delete the finished rows, give rows back, then claim
        rows nobody holds for ``demand``'s functions (at most that many of each) in priority
        then submission order, skipping rows another server is claiming right now."""
        t, now = self.table, self._now
        finished = set(done)
        started = [i for i in started if i not in finished]  # no need to count those
        claimed: list[Claimed] = []
        with self._errors(), self.engine.begin() as conn:
            if started:
                conn.execute(sa.update(t).where(t.c.id.in_(started), t.c.owner == self.member)
                             .values(attempts=t.c.attempts + 1))
            ids = list(done)
            for start in range(0, len(ids), DELETE_CHUNK):
                conn.execute(sa.delete(t).where(t.c.id.in_(ids[start:start + DELETE_CHUNK])))
            if released:
                conn.execute(sa.update(t).where(t.c.id.in_(list(released)),
                                                t.c.owner == self.member)
                             .values(owner=None, lease_until=None))
                self._notify(conn)
            for function, wanted in (demand or {}).items():
                query = (sa.select(t.c.id, t.c.unique_key, t.c.function_name, t.c.priority,
                                   t.c.data, t.c.when_to_run, t.c.reducer, t.c.handle,
                                   t.c.attempts)
                         .where(t.c.owner.is_(None),
                                t.c.function_key == hashlib.sha256(function).digest(),
                                t.c.function_name == function, t.c.when_to_run <= now)
                         .order_by(*self._claim_order)
                         .limit(min(wanted, CLAIM_LIMIT))
                         .with_for_update(skip_locked=True))
                rows = conn.execute(query).all()
                if rows:
                    conn.execute(sa.update(t).where(t.c.id.in_([r[0] for r in rows]))
                                 .values(owner=self.member, lease_until=now + self.lease))
                    claimed += [Claimed(StoredJob(*r[:7]), bytes(r[7]), r[8]) for r in rows]
        return claimed

    def status(self, row_id: int) -> tuple[bool, bool]:
        """(known, running) of a job by its row id: running means some server holds it and a
        worker started it."""
        t = self.table
        with self._errors(), self.engine.connect() as conn:
            row = conn.execute(sa.select(t.c.owner, t.c.attempts)
                               .where(t.c.id == row_id)).first()
        if row is None:
            return False, False
        return True, row[0] is not None and row[1] > 0

    def cancel(self, row_id: int) -> bool:
        """Delete a job nobody holds (admin ``cancel job`` of a job no server has taken)."""
        t = self.table
        with self._errors(), self.engine.begin() as conn:
            return bool(conn.execute(sa.delete(t).where(t.c.id == row_id,
                                                        t.c.owner.is_(None))).rowcount)

    # -- wake-ups ------------------------------------------------------------------------------

    def _notify(self, conn: sa.Connection) -> None:
        """Tell the other servers that rows became claimable (PostgreSQL; MySQL servers poll)."""
        if self._postgres:
            conn.exec_driver_sql(f"NOTIFY {self.channel}")

    def listen(self) -> Any:
        """A raw PostgreSQL connection that listens for ``_notify`` (None on MySQL); its
        ``fileno()`` becomes readable when one comes, and ``poll()`` then ``notifies`` read it."""
        if not self._postgres:
            return None
        try:
            pooled = self.engine.raw_connection()
            conn = pooled.driver_connection
            pooled.detach()  # it stays in LISTEN mode: not for the pool
            conn.rollback()
            conn.autocommit = True
            conn.cursor().execute(f"LISTEN {self.channel}")
        except Exception as exc:  # SQLAlchemy's errors and psycopg2's own
            raise QueueError(self._message(exc)) from exc
        return conn
