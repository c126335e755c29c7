"""memcached, gearmand's ``libmemcached`` queue, through pymemcache: ``--libmemcached-servers``
(``HOST[:PORT],...``, required as in gearmand) and ``--libmemcached-prefix`` (``gear_``).

Not durable: memcached keeps items in memory only, evicts them when it needs room, and forgets
everything when it restarts. The server logs a warning saying so at startup. What the servers
still hold at startup is replayed.

gearmand 1.1.20 stores each job as the item ``PREFIXFUNCTION-UNIQUE`` (the data as value, the
priority as flags): jobs with the same function and an empty or ``-`` unique are one item there,
epoch jobs are refused. gearmand-py keeps each job by its id, ``PREFIXgmpy:ID`` (a key without
``-``, which gearmand's replay skips), the job's fields packed in the value; the items are found
by listing every server's keys (``lru_crawler metadump hash``, which walks the hash table: the
LRU walk of ``metadump all`` misses items that were read recently), as gearmand lists them. Opening
converts the items gearmand wrote under the same prefix into this layout. An item over the
server's item size limit (``-I``, 1 MiB by default) is refused: that job alone gets
``QUEUE_ERROR``.
"""

from __future__ import annotations

import logging
import socket
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheError, MemcacheServerError

from .base import Prepared, QueueError, StoredJob
from .registry import MEMCACHED

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

log = logging.getLogger("gearmand_py.queue")

DEFAULT_PORT = 11211
CONNECT_TIMEOUT = 5  # seconds
IO_TIMEOUT = 60  # seconds per reply
BATCH = 1000  # keys per get_many
_OURS = b"gmpy:"
# priority, when, then the lengths of unique, function and reducer; the data is the rest.
_HEADER = struct.Struct(">Bq3I")
_ERRORS = (MemcacheError, OSError)


class _Raw:
    """pymemcache serde that stores bytes as they are with the flags given, and reads back
    (value, flags): gearmand keeps a job's priority in the flags."""

    @staticmethod
    def serialize(_key: bytes, value: tuple[bytes, int]) -> tuple[bytes, int]:
        return value

    @staticmethod
    def deserialize(_key: bytes, value: bytes, flags: int) -> tuple[bytes, int]:
        return value, flags


def prepare(settings: QueueConfig) -> Prepared:
    """Clients for ``--libmemcached-servers``; nothing is connected until open()."""
    listed = settings.options["libmemcached_servers"] or ""
    servers = [_server(part) for part in listed.replace(" ", ",").split(",") if part]
    if not servers:
        raise ValueError("needs --libmemcached-servers HOST[:PORT],...")
    prefix = settings.options["libmemcached_prefix"].encode("utf-8", "surrogateescape")
    if not prefix or any(c <= 32 or c == 127 for c in prefix):
        raise ValueError("--libmemcached-prefix must be non-empty, without spaces or control "
                         "characters (memcached keys cannot hold them)")
    clients = [Client(server, serde=_Raw(), connect_timeout=CONNECT_TIMEOUT, timeout=IO_TIMEOUT,
                      no_delay=True, default_noreply=False) for server in servers]
    where = ",".join(f"{host}:{port}" for host, port in servers)
    return Prepared(lambda: MemcachedQueue(clients, prefix, where), lambda: _close(clients))


def _server(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` (libmemcached also takes a trailing ``:WEIGHT``, meaningless here)."""
    host, _, rest = text.partition(":")
    port = rest.partition(":")[0] or str(DEFAULT_PORT)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--libmemcached-servers: {text!r} is not HOST[:PORT]")
    return host, int(port)


def describe(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class MemcachedQueue:
    """The QueueBackend protocol on memcached: not transactional and not durable (module doc)."""

    name = MEMCACHED.display

    def __init__(self, clients: list[Client], prefix: bytes, where: str) -> None:
        """Reach every server (QueueError saying which one failed), warn that memcached is not
        durable, and convert the items gearmand left under the prefix."""
        self.clients = clients
        self.prefix = prefix
        try:
            for client in clients:
                client.version()
            self._convert_gearmands_items()
        except _ERRORS as exc:
            self.close()
            raise QueueError(f"{where}: {describe(exc)}") from exc
        except QueueError:
            self.close()
            raise
        log.warning("The memcached queue (%s) is not durable: memcached evicts jobs when it "
                    "needs room and loses them all when it restarts", where)

    def _key(self, id: int) -> bytes:
        return b"%s%s%d" % (self.prefix, _OURS, id)

    def _client(self, key: bytes) -> Client:
        """The server a key of ours lives on (the same for as long as the server list is)."""
        return self.clients[zlib.crc32(key) % len(self.clients)]

    def _call(self, operation: Any, *args: Any) -> Any:
        try:
            return operation(*args)
        except _ERRORS as exc:
            raise QueueError(f"{self.name}: {describe(exc)}") from exc

    def add(self, jobs: Sequence[StoredJob]) -> Mapping[int, str]:
        """One pipelined ``set`` per server; an item the server refuses (over its size limit)
        is that job's refusal, tried alone."""
        by_client: dict[int, dict[bytes, tuple[bytes, int]]] = {}
        ids: dict[bytes, int] = {}
        for job in jobs:
            key = self._key(job.id)
            ids[key] = job.id
            by_client.setdefault(id(self._client(key)), {})[key] = (_pack(job), job.priority)
        refused: dict[int, str] = {}
        for items in by_client.values():
            client = self._client(next(iter(items)))
            try:
                for key in self._call(client.set_many, items):
                    refused[ids[key]] = f"{self.name}: not stored"
            except QueueError as exc:
                if not isinstance(exc.__cause__, MemcacheServerError):
                    raise
                for key, value in items.items():
                    try:
                        self._call(client.set, key, value)
                    except QueueError as one:
                        if not isinstance(one.__cause__, MemcacheServerError):
                            raise
                        refused[ids[key]] = str(one)
        return refused

    def ping(self) -> None:
        """``version`` on every server (each holds a share of the jobs)."""
        for client in self.clients:
            self._call(client.version)

    def done(self, ids: Sequence[int]) -> None:
        for id in ids:
            key = self._key(id)
            self._call(self._client(key).delete, key)

    def replay(self) -> Iterator[StoredJob]:
        """The ids the servers list, in order, BATCH items at a time; an item evicted in the
        meantime is gone."""
        ids = sorted(self._ids())
        for start in range(0, len(ids), BATCH):
            keys = [self._key(id) for id in ids[start:start + BATCH]]
            found: dict[bytes, tuple[bytes, int]] = {}
            for client in self.clients:
                mine = [key for key in keys if self._client(key) is client]
                if mine:
                    found.update(self._call(client.get_many, mine))
            for id, key in zip(ids[start:start + BATCH], keys):
                if key in found:
                    yield _unpack(id, found[key][0])

    def max_id(self) -> int:
        return max(self._ids(), default=0)

    def clear(self) -> None:
        self.done(sorted(self._ids()))

    def close(self) -> None:
        _close(self.clients)

    def _ids(self) -> Iterator[int]:
        """The ids of the jobs of ours the servers hold."""
        ours = self.prefix + _OURS
        for _client, key in self._listed():
            if key.startswith(ours) and key[len(ours):].isdigit():
                yield int(key[len(ours):])

    def _listed(self) -> Iterator[tuple[Client, bytes]]:
        """Every key under the prefix, with the server that lists it."""
        for client in self.clients:
            try:
                for key in _metadump(client.server):
                    if key.startswith(self.prefix):
                        yield client, key
            except OSError as exc:
                raise QueueError(f"{self.name}: listing the keys: {describe(exc)}") from exc

    def _convert_gearmands_items(self) -> None:
        """Move the jobs of gearmand's ``PREFIXFUNCTION-UNIQUE`` items into this layout."""
        found = sorted((key, client) for client, key in self._listed() if b"-" in key)
        next_id = self.max_id() + 1
        converted = 0
        for key, client in found:
            item = client.get(key)
            function, _, unique = key[len(self.prefix):].partition(b"-")
            if item is not None and function:
                data, priority = item
                job = StoredJob(next_id + converted, unique, function, min(priority, 2), data, 0)
                if self.add([job]):
                    continue  # too big for its new server: left where gearmand put it
                converted += 1
            client.delete(key)
        if converted:
            log.warning("Converted %d jobs gearmand left in memcached under the prefix %r to "
                        "gearmand-py's layout; gearmand 1.1.20 skips them", converted,
                        self.prefix.decode("utf-8", "replace"))


def _close(clients: list[Client]) -> None:
    for client in clients:
        client.close()


def _metadump(server: tuple[str, int]) -> Iterator[bytes]:
    """The keys memcached lists for ``lru_crawler metadump hash``, read as they arrive on a
    connection of their own (pymemcache's raw_command loses part of a long reply)."""
    with socket.create_connection(server, CONNECT_TIMEOUT) as sock:
        sock.settimeout(IO_TIMEOUT)
        sock.sendall(b"lru_crawler metadump hash\r\n")
        pending = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed while listing the keys")
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.startswith(b"key="):
                    yield unquote_to_bytes(line.split(b" ", 1)[0][4:])
                elif line.startswith(b"END"):
                    return
                elif line.strip():  # BUSY (another crawl runs), an ERROR from an old memcached
                    raise ConnectionError(f"lru_crawler metadump: {line.strip().decode()}")


def _pack(job: StoredJob) -> bytes:
    return b"".join((_HEADER.pack(job.priority, job.when, len(job.unique), len(job.function),
                                  len(job.reducer)), job.unique, job.function, job.reducer,
                     job.data))


def _unpack(id: int, value: bytes) -> StoredJob:
    priority, when, unique_size, function_size, reducer_size = _HEADER.unpack_from(value)
    at = _HEADER.size
    unique = value[at:at + unique_size]
    at += unique_size
    function = value[at:at + function_size]
    at += function_size
    reducer = value[at:at + reducer_size]
    return StoredJob(id, unique, function, priority, value[at + reducer_size:], when, reducer)
