"""One rule for missing test prerequisites: outside CI skip with the reason; under CI=true fail,
because CI installs everything and a skip there would hide a broken install step."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """True when running under CI (``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(condition: object, reason: str) -> None:
    """Skip unless ``condition`` holds; under CI=true, fail instead of skipping."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"missing prerequisite (CI=true, so this fails instead of skipping): {reason}")
    pytest.skip(reason)
