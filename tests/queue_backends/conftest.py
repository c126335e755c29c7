"""Fixtures for the queue-backend tests: ``db`` runs a test once per backend (see dbs.py)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.queue_backends.dbs import KINDS, Database  # noqa: E402
from tests.queue_backends.kv import MemcachedStore, RedisStore  # noqa: E402

queue_logger = logging.getLogger("gearmand_py.queue")  # the backends' and the migration's

#: Every backend the QueueBackend contract tests run on.
STORE_KINDS = (*KINDS, "redis", "memcached")


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh table on one backend; narrow with ``@pytest.mark.parametrize("db", [...],
    indirect=True)``."""
    database = Database.create(request.param, tmp_path)
    try:
        yield database
    finally:
        database.cleanup()


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest,
          tmp_path: Path) -> Iterator[Database | RedisStore | MemcachedStore]:
    """A fresh queue on one backend, SQL or not: a table, a key prefix of its own, or a
    memcached of its own."""
    opened: Database | RedisStore | MemcachedStore
    if request.param == "redis":
        opened = RedisStore()
    elif request.param == "memcached":
        opened = MemcachedStore()
    else:
        opened = Database.create(request.param, tmp_path)
    try:
        yield opened
    finally:
        opened.cleanup()


class Records(logging.Handler):
    """Keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def queue_log() -> Iterator[list[logging.LogRecord]]:
    """Records of the queue backends' logger at WARNING and above. A handler on that logger itself:
    gearmand_py.logs may have stopped propagation to the root logger (and caplog's handler)."""
    handler = Records()
    level = queue_logger.level
    queue_logger.addHandler(handler)
    queue_logger.setLevel(logging.WARNING)
    try:
        yield handler.records
    finally:
        queue_logger.removeHandler(handler)
        queue_logger.setLevel(level)
