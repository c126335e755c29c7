"""The memcached queue beyond the common contract: not durable (and saying so), the items
gearmand 1.1.20 wrote, several servers, a restart, and an item over the server's size limit."""

from __future__ import annotations

import logging

import pytest

from queue_backends import QueueError, StoredJob, open_backend
from tests.queue_backends.dbs import settings
from tests.queue_backends.kv import (GEARMAND_JOBS, MemcachedServer, MemcachedStore,
                                     fill_with_gearmand)


def job(id: int, data: bytes = b"") -> StoredJob:
    return StoredJob(id, b"", b"fn", 1, data or b"d%d" % id, 0)


def test_opening_warns_that_memcached_is_not_durable(
        queue_log: list[logging.LogRecord]) -> None:
    store = MemcachedStore()
    try:
        store.open()
        assert [r.getMessage() for r in queue_log] == [
            f"The memcached queue (127.0.0.1:{store.server.port}) is not durable: memcached "
            "evicts jobs when it needs room and loses them all when it restarts"]
    finally:
        store.cleanup()


def test_items_written_by_gearmand_are_converted_and_replayed(
        queue_log: list[logging.LogRecord]) -> None:
    """Debian's gearmand 1.1.20 fills a private memcached; gearmand-py replays what it holds."""
    store = MemcachedStore()
    try:
        fill_with_gearmand("-q", "libmemcached", "--libmemcached-servers",
                           f"127.0.0.1:{store.server.port}")
        queue = store.open()
        jobs = {(j.function, j.unique): (j.priority, j.data) for j in queue.replay()}
        assert jobs == GEARMAND_JOBS
        assert any("Converted 3 jobs gearmand left in memcached" in r.getMessage()
                   for r in queue_log)
        assert list(store.open().replay()) == list(queue.replay())  # converted once
    finally:
        store.cleanup()


def test_jobs_spread_over_several_servers_replay_in_order() -> None:
    first, second = MemcachedStore(), MemcachedStore()
    try:
        servers = f"127.0.0.1:{first.server.port},127.0.0.1:{second.server.port}"
        queue = first.open(libmemcached_servers=servers)
        queue.add([job(i) for i in range(1, 101)])
        queue.done([5, 50])
        reopened = first.open(libmemcached_servers=servers)
        assert [j.id for j in reopened.replay()] == [i for i in range(1, 101) if i not in (5, 50)]
        alone = first.open()  # each server holds some of them
        assert 0 < len(list(alone.replay())) < 98
    finally:
        first.cleanup()
        second.cleanup()


def test_a_memcached_restart_fails_calls_meanwhile_and_forgets_the_jobs() -> None:
    store = MemcachedStore()
    try:
        queue = store.open()
        queue.add([job(1)])
        store.server.kill()
        with pytest.raises(QueueError, match="^memcached: "):
            queue.add([job(2)])
        store.server.start()
        queue.add([job(3)])  # reconnected
        assert [j.id for j in queue.replay()] == [3]  # job 1 went with the old process
    finally:
        store.cleanup()


def test_an_item_over_the_size_limit_fails_alone() -> None:
    store = MemcachedStore(MemcachedServer(max_item="1m"))
    try:
        queue = store.open()
        refused = queue.add([job(1), job(2, b"x" * (2 << 20)), job(3)])
        assert list(refused) == [2]
        assert refused[2].startswith("memcached: "), refused
        assert [j.id for j in queue.replay()] == [1, 3]
    finally:
        store.cleanup()


@pytest.mark.parametrize(("servers", "message"), [
    (None, "^-q libmemcached: needs --libmemcached-servers HOST\\[:PORT\\],...$"),
    ("host:port", "^-q libmemcached: --libmemcached-servers: 'host:port' is not HOST\\[:PORT\\]$"),
])
def test_bad_server_lists_are_settings_errors(servers: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_backend(settings(queue_type="libmemcached", libmemcached_servers=servers))
