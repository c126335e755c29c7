"""Fixtures for the queue-backend tests: ``db`` runs a test once per backend (see dbs.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.queue_backends.dbs import KINDS, Database  # noqa: E402


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh table on one backend; narrow with ``@pytest.mark.parametrize("db", [...],
    indirect=True)``."""
    database = Database.create(request.param, tmp_path)
    try:
        yield database
    finally:
        database.cleanup()
