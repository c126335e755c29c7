"""The persistent-queue interface: what the queue-writer thread and the startup replay need.

A backend stores background jobs so they survive a crash or restart. Every row has an ``id``
chosen by the server (increasing in submission order), so jobs whose unique is empty or ``-`` are
as durable as any other (gearmand keys rows by unique + function, and such jobs overwrite each
other there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol


class StoredJob(NamedTuple):
    """One background job as a backend keeps it."""

    id: int
    unique: bytes
    function: bytes
    priority: int  # 0 high, 1 normal, 2 low (gearmand's numbering)
    data: bytes | memoryview
    when: int  # epoch seconds to run at; 0 = now
    reducer: bytes = b""


class QueueError(Exception):
    """The database is unavailable or failing as a whole (unreachable, connection lost and not
    regained, table gone, locked, timed out): the call did nothing. The message is meant for the
    client and the log."""


class QueueBackend(Protocol):
    """Implemented by each backend. Called from one thread at a time (the queue writer, or the
    main thread at startup); each call is one transaction, all-or-nothing, except ``add``, whose
    rows succeed or fail one by one (see there)."""

    name: str

    def add(self, jobs: Sequence[StoredJob]) -> Mapping[int, str]:
        """Store ``jobs`` durably before returning; the result maps the id of every job the
        database *refused* to why (empty when all are stored). A refusal is one row's fault (a
        value out of a column's range, a row over the server's packet limit, a duplicate id):
        that row fails alone and every other one is stored, since one client's bad job must
        not fail the other clients' submits that share its group commit. When the database is
        *unavailable* instead, raise QueueError at once (no row stored, none retried one by
        one); if it becomes unavailable while refused rows are being sorted out, the rows not
        stored by then are reported with that error."""

    def done(self, ids: Sequence[int]) -> None:
        """Delete the jobs with these ids (unknown ids are ignored)."""

    def replay(self) -> Iterator[StoredJob]:
        """Every stored job in submission (id) order."""

    def max_id(self) -> int:
        """The largest stored id, 0 when empty, so new ids continue after a restart."""

    def clear(self) -> None:
        """Delete every job (``--store-queue-on-shutdown`` empties the table after replay)."""

    def ping(self) -> None:
        """Ask the store the cheapest question it answers (the monitor's ``/healthz`` wants to
        know whether it is reachable while no job touches it); QueueError if it cannot."""

    def close(self) -> None:
        """Release connections."""


class PreparedQueue(Protocol):
    """A backend made ready to open: drivers loaded and settings checked, nothing connected.
    Startup prepares as root and opens after -u, as the user the server runs as."""

    #: A file the backend keeps (SQLite's database), which -u hands to the user.
    owned_file: str | None

    def open(self) -> QueueBackend:
        """Connect and prepare the store (ValueError for bad settings, QueueError when it
        cannot be reached or prepared); the backend then owns what was prepared."""

    def dispose(self) -> None:
        """Release what was prepared without opening it (idempotent)."""


@dataclass
class Prepared:
    """A PreparedQueue made of what its backend module hands over."""

    opener: Callable[[], QueueBackend]
    disposer: Callable[[], None]
    owned_file: str | None = None

    def open(self) -> QueueBackend:
        return self.opener()

    def dispose(self) -> None:
        self.disposer()
