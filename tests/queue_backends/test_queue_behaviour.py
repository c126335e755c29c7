"""The QueueBackend contract, run against SQLite, MariaDB, PostgreSQL, Redis and memcached alike."""

from __future__ import annotations

import threading
import tracemalloc

from queue_backends import StoredJob
from tests.queue_backends.dbs import SERVER_KINDS, Database
from tests.queue_backends.kv import MemcachedStore, RedisStore

Store = Database | RedisStore | MemcachedStore


def job(id: int, unique: bytes | None = None, function: bytes = b"fn", priority: int = 1,
        data: bytes | None = None, when: int = 0, reducer: bytes = b"") -> StoredJob:
    """A job whose unique and data default to ones derived from ``id``."""
    return StoredJob(id, b"u%d" % id if unique is None else unique, function, priority,
                     b"d%d" % id if data is None else data, when, reducer)


def test_arbitrary_bytes_round_trip(store: Store) -> None:
    every_byte = bytes(range(256))
    jobs = [
        StoredJob(1, b"\x00nul\x00", b"f\x00n", 0, every_byte * 4, 0, b"r\x00\xff"),
        StoredJob(2, b"\xff\xfe not utf-8 \xc3", b"\x80\x81", 1, b"\x00", 2**40, b""),
        StoredJob(3, "h\u00e9llo \u2603".encode(), "f\u00fcnc".encode(), 2, b"", 1, b"\xc0\xaf"),
        StoredJob(4, b"x" * 300, b"f" * 1000, 1, every_byte * 4096, 0, b"red"),  # 1 MiB of data
        StoredJob(5, b" trailing ", b"fn ", 1, b"  ", 0, b" "),  # MySQL must not trim spaces
    ]
    queue = store.open()
    queue.add(jobs)
    assert list(queue.replay()) == jobs
    assert all(type(field) is bytes for j in queue.replay() for field in (j[1], j[2], j[4], j[6]))


def test_replay_is_in_id_order_across_batches(store: Store) -> None:
    queue = store.open()
    queue.add([job(5), job(3), job(4)])
    queue.add([job(1)])
    queue.add([job(9), job(2)])
    assert [j.id for j in queue.replay()] == [1, 2, 3, 4, 5, 9]


def test_done_removes_and_ignores_unknown_ids(store: Store) -> None:
    queue = store.open()
    queue.add([job(i) for i in range(1, 6)])
    queue.done([2, 4, 999, 2])
    queue.done([])
    queue.done([12345])
    assert [j.id for j in queue.replay()] == [1, 3, 5]


def test_done_deletes_more_ids_than_one_chunk(store: Store) -> None:
    queue = store.open()
    queue.add([job(i) for i in range(1, 3001)])
    queue.done(range(1, 2999))
    assert [j.id for j in queue.replay()] == [2999, 3000]


def test_empty_and_dash_uniques_with_one_function_all_survive(store: Store) -> None:
    """gearmand keys rows by (unique, function): only 2 of these 4 would be left there, and
    finishing one '-' job would delete the other's row."""
    jobs = [job(1, b"-", b"sq2", data=b"AAA"), job(2, b"-", b"sq2", data=b"BBB"),
            job(3, b"", b"sq2", data=b"CCC"), job(4, b"", b"sq2", data=b"DDD")]
    queue = store.open()
    queue.add(jobs)
    assert list(queue.replay()) == jobs
    queue.done([1])
    assert list(queue.replay()) == jobs[1:]


def test_max_id_survives_close_and_reopen(store: Store) -> None:
    queue = store.open()
    assert queue.max_id() == 0
    queue.add([job(7), job(3), job(11)])
    queue.done([11])
    queue.close()
    reopened = store.open()
    assert reopened.max_id() == 7
    assert [j.id for j in reopened.replay()] == [3, 7]


def test_clear_deletes_everything(store: Store) -> None:
    queue = store.open()
    queue.add([job(i) for i in range(1, 50)])
    queue.clear()
    assert list(queue.replay()) == []
    assert queue.max_id() == 0
    queue.add([job(50)])
    assert [j.id for j in queue.replay()] == [50]


def test_ten_thousand_jobs_in_one_add(store: Store) -> None:
    jobs = [job(i, data=b"payload %d \x00" % i, priority=i % 3, when=i) for i in range(1, 10001)]
    queue = store.open()
    queue.add(jobs)
    assert list(queue.replay()) == jobs
    assert queue.max_id() == 10000


def test_replay_streams_a_hundred_thousand_rows(store: Store) -> None:
    """The first job arrives without the whole table being fetched: little Python memory, and the
    server is still sending (MariaDB) or the rows sit behind a server-side cursor (PostgreSQL).
    memcached has no ordered index: its keys are all listed first (about 100 bytes a job, not
    the jobs themselves), so its limit is the size of that list."""
    total = 100_000
    queue = store.open()
    for start in range(1, total + 1, 25_000):
        queue.add([job(i, data=b"%0200d" % i) for i in range(start, start + 25_000)])
    session = store.session_ids(queue)[0] if store.kind in SERVER_KINDS else 0

    replay = queue.replay()
    try:  # close the replay even on failure: its open transaction would block dropping the table
        was_tracing = tracemalloc.is_tracing()  # e.g. under python -X tracemalloc
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            first = next(replay)
            allocated = tracemalloc.get_traced_memory()[1] - before
        finally:
            if not was_tracing:
                tracemalloc.stop()
        assert first == job(1, data=b"%0200d" % 1)
        limit = 4_000_000 if store.kind != "memcached" else 200 * total
        assert allocated < limit, f"{allocated} bytes allocated for the first row"
        state = store.session_state(session) if session else None
        if store.kind == "mysql":
            assert state == "Query"  # not "Sleep": the server is still sending the result
        elif store.kind == "postgres":
            assert state and state.startswith(("FETCH", "DECLARE")), state

        count, previous = 1, 1
        for stored in replay:
            assert stored.id == previous + 1
            count, previous = count + 1, stored.id
    finally:
        replay.close()
    assert count == total


def test_abandoned_replay_releases_its_connection(store: Store) -> None:
    queue = store.open()
    queue.add([job(i) for i in range(1, 3001)])
    replay = queue.replay()
    next(replay)
    replay.close()
    queue.clear()
    queue.add([job(1)])
    assert [j.id for j in queue.replay()] == [1]


def test_calls_from_another_thread(store: Store) -> None:
    """The queue-writer thread adds while the main thread opened the queue and replays."""
    queue = store.open()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            queue.add([job(1), job(2)])
            queue.done([1])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(30)
    assert not errors
    assert [j.id for j in queue.replay()] == [2]
