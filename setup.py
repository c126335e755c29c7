"""Compiles the hot paths with mypyc when ``_build/backend.will_compile`` says so (a C compiler
is found and GEARMAND_PY_PURE is not 1); otherwise, or if mypyc is missing, the package is pure
Python and behaves the same. Everything else is in setup.cfg."""

from __future__ import annotations

import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "_build"))
from backend import will_compile  # noqa: E402

#: The modules each job passes through: the codec, the core's records and handlers, the I/O
#: loop and its poller, the processing thread's driver, the connection record (the loop reads
#: its fields several times per packet; where compiled code knows it is a Connection, each read
#: is a load, not an attribute lookup), the log-level flags the handlers check, and the monitor's
#: counting engine (with --monitor-port every job passes through it; interpreted, it cost a
#: compiled server 61 % more instructions per job).
COMPILED = [
    "gearmand_py/protocol/codec.py",
    "gearmand_py/core/model.py",
    "gearmand_py/core/engine.py",
    "gearmand_py/core/stats.py",
    "gearmand_py/server/io_loop.py",
    "gearmand_py/server/processor.py",
    "gearmand_py/server/connection.py",
    "gearmand_py/server/poller.py",
    "gearmand_py/verbosity.py",
]
#: Commands that build extension modules; metadata-only ones need no compiling.
_BUILDS = {"build", "build_ext", "bdist_wheel", "install"}


def ext_modules() -> list:
    if not _BUILDS.intersection(sys.argv) or not will_compile():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("gearmand-py: mypyc not found (pip install mypy); building pure Python",
              file=sys.stderr)
        return []
    try:
        # The group name puts mypyc's shared library inside the package, not beside it, so
        # that an in-place build imports from wherever the package does.
        return mypycify(["--ignore-missing-imports", "--follow-imports=silent", *COMPILED],
                        opt_level="3", group_name="gearmand_py.compiled")
    except (Exception, SystemExit) as exc:  # a mypy that no longer takes the source
        print(f"gearmand-py: mypyc failed ({exc}); building pure Python", file=sys.stderr)
        return []


setup(ext_modules=ext_modules())
