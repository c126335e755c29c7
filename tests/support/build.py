"""Which build of gearmand-py the tests run: the compiled modules (mypyc) or pure Python.

``scripts/test --compiled`` builds the extensions in place; a plain ``scripts/test`` removes
them. An extension older than its source would test yesterday's code, so the suite refuses to
start with one (``stale_extensions``).
"""

from __future__ import annotations

from pathlib import Path

import gearmand_py.core.engine

REPO = Path(__file__).resolve().parents[2]
#: Whether the engine, and with it the other hot paths, is a compiled extension.
COMPILED = not gearmand_py.core.engine.__file__.endswith(".py")


def stale_extensions() -> list[str]:
    """The in-place extension modules older than their source (or than the shared library
    mypyc puts every compiled module's code in)."""
    stale = []
    shared = [path.stat().st_mtime for path in REPO.glob("gearmand_py/*__mypyc.*.so")]
    for extension in REPO.glob("gearmand_py/**/*.so"):
        source = extension.with_name(extension.name.split(".")[0] + ".py")
        if not source.exists():
            continue
        built = min([extension.stat().st_mtime, *shared])
        if source.stat().st_mtime > built:
            stale.append(str(source.relative_to(REPO)))
    return stale
