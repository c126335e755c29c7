"""Redis, gearmand's ``redis`` queue, through redis-py: ``--redis-server`` (127.0.0.1),
``--redis-port`` (6379), ``--redis-password``, ``--redis-prefix`` (``_gear_``), gearmand's
defaults.

gearmand 1.1.20 keeps each job in a hash ``PREFIX-FUNCTION-UNIQUE`` with the fields ``data`` and
``priority`` (1.1.15 and older: a plain string, the data): two jobs with the same function and an
empty or ``-`` unique are one key there, epoch jobs are refused, and there is no order. gearmand-py
keeps each job by the id the server chose, so none of that is lost:

* ``PREFIX:job:ID``, a hash with ``unique``, ``function``, ``priority``, ``data``, ``when`` and
  ``reducer``;
* ``PREFIX:ids``, a sorted set of the ids (score = id), for replay in submission order.

Opening converts the keys gearmand wrote under the same prefix into this layout (ids after the
stored ones, in key order; each batch in one MULTI, so a crash leaves every
job in one layout or the other). gearmand cannot read gearmand-py's layout: drain the queue before
going back to gearmand.

Every write is one MULTI/EXEC transaction (a group commit is one round trip). Jobs are as durable
as Redis is configured to be: with ``appendonly yes`` and ``appendfsync always`` an acknowledged
job is on disk; ``everysec`` may lose the last second on a power cut; without the append-only
file a restart loses whatever came after the last snapshot, so opening logs a warning then.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import Prepared, QueueError, StoredJob
from .registry import REDIS

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

log = logging.getLogger("gearmand_py.queue")

DEFAULT_SERVER = "127.0.0.1"  # gearmand's defaults
DEFAULT_PORT = 6379
DEFAULT_PREFIX = "_gear_"
CONNECT_TIMEOUT = 5  # seconds
IO_TIMEOUT = 60  # seconds per reply: a Redis that accepts but never answers fails, not hangs
BATCH = 1000  # ids per replay round trip, keys per DEL/ZREM, gearmand keys per conversion
_FIELDS = (b"unique", b"function", b"priority", b"data", b"when", b"reducer")


def prepare(settings: QueueConfig) -> Prepared:
    """A client for gearmand's Redis options; nothing is connected until open()."""
    options = settings.options
    server = options["redis_server"] or DEFAULT_SERVER
    port = _port(options["redis_port"])
    # The stale connection a Redis restart leaves in the pool fails once and is replaced at
    # once (one retry); a Redis that is down fails the call, and the queue writer retries.
    client = redis.Redis(host=server, port=port, password=options["redis_password"] or None,
                         socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=IO_TIMEOUT,
                         retry=Retry(NoBackoff(), 1, (redis.ConnectionError,)))
    prefix = (options["redis_prefix"] or DEFAULT_PREFIX).encode("utf-8", "surrogateescape")
    return Prepared(lambda: RedisQueue(client, prefix, f"{server}:{port}"), client.close)


def _port(text: str | None) -> int:
    """``--redis-port``: a number or a service name (gearmand's "port/service")."""
    if not text:
        return DEFAULT_PORT
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    try:
        return socket.getservbyname(text, "tcp")
    except OSError:
        raise ValueError(f"--redis-port {text!r} is neither a port number nor a TCP service "
                         f"name") from None


def describe(exc: BaseException) -> str:
    """One line for a redis-py error."""
    return " ".join(str(exc).split()) or type(exc).__name__


class RedisQueue:
    """The QueueBackend protocol on Redis."""

    name = REDIS.display

    def __init__(self, client: redis.Redis, prefix: bytes, where: str) -> None:
        """Connect (QueueError saying why not), warn when Redis persists nothing, and convert
        the jobs gearmand left under the prefix."""
        self.client = client
        self.prefix = prefix
        self.ids = prefix + b":ids"
        try:
            client.ping()
            _warn_unless_persistent(client, where)
            self._convert_gearmands_keys()
        except redis.RedisError as exc:
            client.close()
            raise QueueError(f"{where}: {describe(exc)}") from exc

    def _key(self, id: int) -> bytes:
        return b"%s:job:%d" % (self.prefix, id)

    def _call(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        """``operation(*args, **kwargs)`` with redis-py's errors as QueueError."""
        try:
            return operation(*args, **kwargs)
        except redis.RedisError as exc:
            raise QueueError(f"{self.name}: {describe(exc)}") from exc

    def add(self, jobs: Sequence[StoredJob]) -> Mapping[int, str]:
        """One MULTI/EXEC: a hash per job and their ids. Redis refuses no single job (its
        limits are far above --max-packet-size), so it is all or nothing."""
        if jobs:
            self._call(self._add, jobs)
        return {}

    def _add(self, jobs: Sequence[StoredJob]) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for job in jobs:
                pipe.hset(self._key(job.id), mapping={
                    b"unique": job.unique, b"function": job.function, b"priority": job.priority,
                    b"data": bytes(job.data), b"when": job.when, b"reducer": job.reducer})
            pipe.zadd(self.ids, {b"%d" % job.id: job.id for job in jobs})
            pipe.execute()

    def done(self, ids: Sequence[int]) -> None:
        """One MULTI/EXEC deleting the jobs' hashes and ids."""
        if ids:
            self._call(self._delete, ids)

    def _delete(self, ids: Sequence[int]) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for start in range(0, len(ids), BATCH):
                chunk = ids[start:start + BATCH]
                pipe.delete(*(self._key(id) for id in chunk))
                pipe.zrem(self.ids, *(b"%d" % id for id in chunk))
            pipe.execute()

    def replay(self) -> Iterator[StoredJob]:
        """The ids in order, BATCH at a time, each batch's hashes in one round trip."""
        after = b"-inf"
        while True:
            ids = self._call(self.client.zrange, self.ids, after, b"+inf", byscore=True,
                             offset=0, num=BATCH)
            if not ids:
                return
            with self.client.pipeline(transaction=False) as pipe:
                for id in ids:
                    pipe.hmget(self._key(int(id)), _FIELDS)
                rows = self._call(pipe.execute)
            for id, row in zip(ids, rows):
                if row[3] is not None:  # a hash deleted behind the server's back is gone
                    yield _job(int(id), row)
            after = b"(" + ids[-1]

    def max_id(self) -> int:
        last = self._call(self.client.zrange, self.ids, -1, -1)
        return int(last[0]) if last else 0

    def ping(self) -> None:
        self._call(self.client.ping)

    def clear(self) -> None:
        """One MULTI/EXEC deleting every job and the id set."""
        ids = [int(id) for id in self._call(self.client.zrange, self.ids, 0, -1)]
        self._call(self._delete, ids)

    def close(self) -> None:
        self.client.close()

    def _convert_gearmands_keys(self) -> None:
        """Move the jobs of gearmand's ``PREFIX-FUNCTION-UNIQUE`` keys into this layout (sorted
        by key: gearmand keeps no order)."""
        pattern = _glob_escape(self.prefix) + b"-*"
        found = sorted(set(self.client.scan_iter(match=pattern, count=BATCH)))  # SCAN may repeat
        converted = 0
        for start in range(0, len(found), BATCH):
            keys = found[start:start + BATCH]
            next_id = self.max_id() + 1
            with self.client.pipeline(transaction=True) as pipe:
                ids: dict[bytes, int] = {}
                for key in keys:
                    job = self._gearmand_job(key, next_id + len(ids))
                    if job is not None:
                        pipe.hset(self._key(job.id), mapping=dict(zip(_FIELDS, (
                            job.unique, job.function, job.priority, job.data, job.when,
                            job.reducer))))
                        ids[b"%d" % job.id] = job.id
                    pipe.delete(key)
                if ids:
                    pipe.zadd(self.ids, ids)
                pipe.execute()
            converted += len(ids)
        if converted:
            log.warning("Converted %d jobs gearmand left in Redis under the prefix %r to "
                        "gearmand-py's layout; gearmand 1.1.20 cannot read them back",
                        converted, self.prefix.decode("utf-8", "replace"))

    def _gearmand_job(self, key: bytes, id: int) -> StoredJob | None:
        """The job in one of gearmand's keys, None when it holds none (it is then dropped, as
        gearmand's replay skips it)."""
        function, _, unique = key[len(self.prefix) + 1:].partition(b"-")
        kind = self.client.type(key)
        if kind == b"string":  # gearmand <= 1.1.15: the data, normal priority
            data, priority = self.client.get(key), 1
        elif kind == b"hash":
            data, priority = self.client.hmget(key, [b"data", b"priority"])
        else:
            return None
        if data is None or not function:
            return None
        return StoredJob(id, unique, function, int(priority or 1), data, 0)


def _job(id: int, row: list[bytes]) -> StoredJob:
    unique, function, priority, data, when, reducer = row
    return StoredJob(id, unique or b"", function or b"", int(priority or 1), data,
                     int(when or 0), reducer or b"")


def _glob_escape(text: bytes) -> bytes:
    """``text`` matched literally in a Redis glob pattern."""
    return b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in text)


def _warn_unless_persistent(client: redis.Redis, where: str) -> None:
    """A warning at startup when a Redis restart would lose acknowledged jobs."""
    try:  # redis-py decodes CONFIG GET's reply whatever decode_responses says
        config = {**client.config_get("appendonly"), **client.config_get("save")}
    except redis.ResponseError as exc:  # CONFIG renamed or forbidden to this user
        log.warning("Redis at %s: cannot check its persistence (%s); jobs are as durable as its "
                    "appendonly and save settings make them", where, describe(exc))
        return
    if config.get("appendonly") == "yes":
        return
    if config.get("save"):
        log.warning("Redis at %s has appendonly no: a Redis restart loses the jobs acknowledged "
                    "since its last snapshot (save %s); set appendonly yes for a durable queue",
                    where, config["save"])
    else:
        log.warning("Redis at %s persists nothing (appendonly no, save \"\"): a Redis restart "
                    "loses every queued job; set appendonly yes for a durable queue", where)
