"""Shared fixtures: the ``server`` fixture runs each test against every job-server setup.

Setups (pytest ids, select them with ``-k``):

* ``gearmand-1.1.20`` – Debian's C gearmand (``/usr/sbin/gearmand -t 4``), the reference;
* ``gearmand-py-t4``  – gearmand-py with 4 I/O threads (``-t 4``);
* ``gearmand-py-t0``  – gearmand-py with I/O on the main thread (``-t 0``).

A missing prerequisite (here: the Debian gearmand binary) skips with a reason, except when the
environment has ``CI=true``: there it fails, so CI cannot go green by skipping everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.build import stale_extensions  # noqa: E402
from tests.support.prerequisites import require  # noqa: E402
from tests.support.servers import GEARMAND, ServerProcess, gearmand_available, start_server  # noqa: E402

#: The property tests' CI budget: derandomized (the same examples on every run, so a red build is
#: reproducible and a green one means the same thing each time), no example database, no
#: per-example deadline (the machine is shared). ``HYPOTHESIS_PROFILE=explore`` searches anew.
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("explore", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_stale = stale_extensions()
if _stale:
    pytest.exit(f"compiled modules older than their source: {', '.join(_stale)}; "
                "rebuild them (scripts/test --compiled) or run pure (scripts/test)", 2)


class ServerSetup(NamedTuple):
    """One job-server configuration the suite runs against."""

    kind: str
    args: tuple[str, ...]


SERVER_SETUPS = [
    pytest.param(ServerSetup("gearmand", ("-t", "4")), id="gearmand-1.1.20"),
    pytest.param(ServerSetup("gearmand-py", ("-t", "4")), id="gearmand-py-t4"),
    pytest.param(ServerSetup("gearmand-py", ("-t", "0")), id="gearmand-py-t0"),
]


@pytest.fixture(scope="module", params=SERVER_SETUPS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A job server on a free loopback port, shared by the tests of one module.

    Tests must use their own function names so they do not see each other's jobs. If the server
    died during the module, teardown fails with its log.
    """
    setup: ServerSetup = request.param
    if setup.kind == "gearmand":
        require(gearmand_available(),
                f"Debian gearmand not found at {GEARMAND} (apt-get install gearman-job-server)")
    proc = start_server(setup.kind, list(setup.args))
    try:
        yield proc
    finally:
        died = proc.proc.poll() is not None
        log = proc.log() if died else ""
        code = proc.stop()
        if died:
            pytest.fail(f"{setup.kind} {' '.join(setup.args)} exited during the tests "
                        f"(code {code}); log:\n{log[-4000:]}")
