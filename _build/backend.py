"""The build backend: setuptools', asking for mypy as well when a wheel will be compiled.

``setup.py`` compiles the hot paths with mypyc (``COMPILED`` there) whenever ``will_compile``
says so; an editable install stays pure Python, since editing a compiled module would change
nothing until the next build.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from typing import Any

from setuptools import build_meta as _setuptools
# The hooks this module does not change.
from setuptools.build_meta import (
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable", "build_sdist", "build_wheel", "get_requires_for_build_editable",
    "get_requires_for_build_sdist", "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable", "prepare_metadata_for_build_wheel",
]

#: What a compiled build needs besides setuptools (mypyc comes with mypy; 1.16 is the first whose
#: mypyc takes ``mypyc_attr(native_class=False)``, which ``codec.Spread`` needs).
COMPILER_REQUIRES = ["mypy>=1.16"]


def will_compile() -> bool:
    """Whether to build the compiled modules: not with GEARMAND_PY_PURE=1, nor without a C
    compiler and Python's headers, which mypyc's output needs."""
    if os.environ.get("GEARMAND_PY_PURE") == "1":
        return False
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(compiler) is not None and os.path.exists(headers)


def compiler_requires() -> list[str]:
    """What building a wheel needs besides what setuptools asks for."""
    return COMPILER_REQUIRES if will_compile() else []


def get_requires_for_build_wheel(config_settings: dict[str, Any] | None = None) -> list[str]:
    return _setuptools.get_requires_for_build_wheel(config_settings) + compiler_requires()


def build_editable(wheel_directory: str, config_settings: dict[str, Any] | None = None,
                   metadata_directory: str | None = None) -> str:
    os.environ["GEARMAND_PY_PURE"] = "1"
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
