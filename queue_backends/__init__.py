"""Persistent queue backends, opened from the server's settings through the registry.

``-q/--queue-type`` takes gearmand's names (any case) or short aliases (``registry``);
``--queue-url`` takes any SQLAlchemy URL. ``prepare`` and ``open_backend`` raise ValueError for
bad settings (a missing driver included) and QueueError when the store cannot be opened; either
message starts with the option that chose it (``--queue-url: ...``, ``-q mysql: ...``), so
startup can print it as it is.

Importing this package loads no driver: a backend's module is imported when it is prepared.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import registry
from .base import Prepared, PreparedQueue, QueueBackend, QueueError, StoredJob

if TYPE_CHECKING:
    from gearmand_py.settings import QueueConfig

__all__ = ["PreparedQueue", "QueueBackend", "QueueError", "StoredJob", "open_backend", "prepare"]


def open_backend(settings: QueueConfig) -> QueueBackend | None:
    """The backend the settings ask for, opened and ready; None for builtin (no persistence)
    without --queue-url."""
    prepared = prepare(settings)
    if prepared is None:
        return None
    try:
        return prepared.open()
    except BaseException:
        prepared.dispose()
        raise


def prepare(settings: QueueConfig) -> PreparedQueue | None:
    """The backend the settings ask for, its driver loaded but nothing connected yet; None for
    builtin without --queue-url. A --queue-url chooses the database; -q may then be builtin or
    must name the URL's kind. -u prepares before dropping root (the user may not be allowed to
    read the drivers) and opens after."""
    option = "--queue-url" if settings.queue_url else f"-q {settings.queue_type}"
    with _blamed(option):
        backend = registry.find(settings.queue_type)
    _check_shared(settings, backend)
    with _blamed(option):
        if settings.queue_url:
            from .sql import prepare_url  # SQLAlchemy only for a URL
            return _blamed_opening(option, prepare_url(settings, backend))
        if backend is None:
            return None
        if backend.module is None:
            raise ValueError(backend.unavailable)
        try:
            module = importlib.import_module(backend.module)
        except ModuleNotFoundError as exc:
            if not backend.extra or exc.name != backend.driver:
                raise
            raise ValueError(f"the {backend.display} queue needs the Python package "
                             f"{backend.driver}: pip install 'gearmand-py[{backend.extra}]'"
                             ) from None
        return _blamed_opening(option, module.prepare(settings))


SHARED_NEEDS = ("--shared-queue needs a PostgreSQL or MySQL/MariaDB queue (-q postgres, -q mysql, "
                "or a --queue-url of either)")


def _check_shared(settings: QueueConfig, backend: registry.Backend | None) -> None:
    """The shared-queue options that make no sense together (ValueError)."""
    if settings.shared_queue_lease is not None and not settings.shared_queue:
        raise ValueError("--shared-queue-lease needs --shared-queue")
    if settings.shared_queue and settings.store_queue_on_shutdown:
        raise ValueError("--store-queue-on-shutdown cannot be used with --shared-queue (the "
                         "shared table is the queue, written as jobs come)")
    if settings.shared_queue and not settings.queue_url and backend not in registry.SHAREABLE:
        raise ValueError(SHARED_NEEDS)


def _blamed_opening(option: str, prepared: PreparedQueue) -> Prepared:
    """``prepared``, whose open() errors start with the option that chose it."""

    def opened() -> QueueBackend:
        with _blamed(option):
            return prepared.open()

    return Prepared(opened, prepared.dispose, prepared.owned_file)


@contextlib.contextmanager
def _blamed(option: str) -> Iterator[None]:
    """Start the message of a ValueError or QueueError raised inside with ``option``: the
    messages below say what failed, this says which setting to look at."""
    try:
        yield
    except QueueError as exc:
        raise QueueError(f"{option}: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from exc
