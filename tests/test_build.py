"""How `pip install .` decides between the compiled build and pure Python (_build/backend.py)."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "_build"))
import backend  # noqa: E402


def test_a_machine_with_a_compiler_builds_the_compiled_wheel_with_mypy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEARMAND_PY_PURE", raising=False)
    assert backend.will_compile()  # gcc and Python's headers are on every machine CI runs on
    assert backend.compiler_requires() == ["mypy>=1.16"]


def test_gearmand_py_pure_builds_pure_python_without_mypy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEARMAND_PY_PURE", "1")
    assert not backend.will_compile()
    assert backend.compiler_requires() == []


def test_without_a_c_compiler_the_build_is_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEARMAND_PY_PURE", raising=False)
    monkeypatch.setattr(backend.shutil, "which", lambda name: None)
    assert not backend.will_compile()
