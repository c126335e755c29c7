"""The Redis queue beyond the common contract: a Redis restart, its persistence warning, the keys
gearmand 1.1.20 wrote, and what a user sees for bad settings or a missing driver."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from queue_backends import QueueError, StoredJob, open_backend
from tests.queue_backends.dbs import settings
from tests.queue_backends.kv import GEARMAND_JOBS, RedisServer, RedisStore, fill_with_gearmand
from tests.support.servers import free_port, repo_env


def job(id: int, unique: bytes = b"", data: bytes = b"") -> StoredJob:
    return StoredJob(id, unique, b"fn", 1, data or b"d%d" % id, 0)


@pytest.fixture
def private(tmp_path: Path) -> Iterator[RedisStore]:
    """The queue on a private redis-server with its AOF fsynced at every write."""
    store = RedisStore(RedisServer(tmp_path))
    try:
        yield store
    finally:
        store.cleanup()


def test_a_redis_restart_fails_calls_meanwhile_and_is_reconnected_after(
        private: RedisStore) -> None:
    queue = private.open()
    queue.add([job(1), job(2)])
    server = private.server
    assert server is not None
    server.kill()
    with pytest.raises(QueueError, match="^Redis: "):
        queue.add([job(3)])
    with pytest.raises(QueueError, match="^Redis: "):
        queue.done([1])
    server.start()
    queue.add([job(4)])  # the pool's dead connection is replaced without a failed call
    queue.done([2])
    assert [j.id for j in queue.replay()] == [1, 4]
    assert queue.max_id() == 4


def test_no_warning_for_a_redis_with_an_append_only_file(
        private: RedisStore, queue_log: list[logging.LogRecord]) -> None:
    private.open()
    assert not queue_log


def test_a_redis_that_persists_nothing_is_warned_about(
        tmp_path: Path, queue_log: list[logging.LogRecord]) -> None:
    store = RedisStore(RedisServer(tmp_path, "--appendonly", "no", "--save", ""))
    try:
        store.open()
        assert [r.getMessage() for r in queue_log] == [
            f"Redis at 127.0.0.1:{store.port} persists nothing (appendonly no, save \"\"): a "
            "Redis restart loses every queued job; set appendonly yes for a durable queue"]
    finally:
        store.cleanup()


def test_the_layout_keeps_every_job_under_the_prefix() -> None:
    """Jobs gearmand would store under one key (same function, empty or '-' unique) are
    separate hashes here, and nothing is written outside the prefix."""
    store = RedisStore()
    try:
        queue = store.open()
        queue.add([job(1, b""), job(2, b""), job(3, b"-"), job(4, b"-")])
        assert store.keys() == sorted(
            [f"{store.prefix}:ids".encode()] + [f"{store.prefix}:job:{i}".encode()
                                                 for i in range(1, 5)])
        assert store.admin.hgetall(f"{store.prefix}:job:3") == {
            b"unique": b"-", b"function": b"fn", b"priority": b"1", b"data": b"d3",
            b"when": b"0", b"reducer": b""}
        queue.clear()
        assert store.keys() == []
    finally:
        store.cleanup()


def test_keys_written_by_gearmand_are_converted_and_replayed(
        tmp_path: Path, queue_log: list[logging.LogRecord]) -> None:
    """Moving from gearmand: Debian's gearmand 1.1.20 fills a private Redis, gearmand-py
    replays every job it stored (and the plain strings of gearmand 1.1.15 and older)."""
    store = RedisStore(RedisServer(tmp_path), prefix="_gear_")  # gearmand's default prefix
    try:
        fill_with_gearmand("-q", "redis", "--redis-server", "127.0.0.1", "--redis-port",
                           str(store.port))
        assert len(store.keys()) == 3
        store.admin.set("_gear_-old-k4", b"four")  # gearmand <= 1.1.15's layout
        queue = store.open()
        jobs = {(j.function, j.unique): (j.priority, j.data) for j in queue.replay()}
        assert jobs == {**GEARMAND_JOBS, (b"old", b"k4"): (1, b"four")}
        assert sorted(j.id for j in queue.replay()) == [1, 2, 3, 4]
        assert not [k for k in store.keys() if k.startswith(b"_gear_-")]
        assert "Converted 4 jobs gearmand left in Redis" in queue_log[-1].getMessage()
        assert list(store.open().replay()) == list(queue.replay())  # converted once
    finally:
        store.cleanup()


def test_password(tmp_path: Path) -> None:
    """--redis-password is sent (AUTH); a wrong or missing one is one line naming the server."""
    store = RedisStore(RedisServer(tmp_path, "--save", "", password="s3cret"))
    try:
        store.open(redis_password="s3cret").add([job(1)])
        for password in ("wrong", None):
            with pytest.raises(QueueError) as exc:
                store.open(redis_password=password)
            message = str(exc.value)
            assert message.startswith(f"-q redis: 127.0.0.1:{store.port}: "), message
            assert "\n" not in message
    finally:
        store.cleanup()


def test_unreachable_redis() -> None:
    port = free_port()
    with pytest.raises(QueueError, match=rf"^-q redis: 127.0.0.1:{port}: .*refused"):
        open_backend(settings(queue_type="redis", redis_port=str(port)))


def test_a_port_that_is_no_port_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="^-q redis: --redis-port 'sixty' is neither a port "
                                         "number nor a TCP service name$"):
        open_backend(settings(queue_type="redis", redis_port="sixty"))


def test_a_missing_driver_names_the_package_to_install(tmp_path: Path) -> None:
    """What a user of the plain install sees (redis-py hidden from the server's Python)."""
    program = ("import sys; sys.modules['redis'] = None\n"
               "from gearmand_py.cli import main; raise SystemExit(main())")
    done = subprocess.run(
        [sys.executable, "-c", program, "--config-file", "/dev/null", "-l", "none", "-P",
         str(tmp_path / "pid"), "-p", str(free_port()), "-q", "redis"],
        capture_output=True, text=True, env=repo_env(), timeout=60)
    assert (done.returncode, done.stderr) == (
        1, "gearmand-py: -q redis: the Redis queue needs the Python package redis: "
           "pip install 'gearmand-py[redis]'\n")
