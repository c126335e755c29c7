"""Run every scenario against Debian's gearmand (the oracle, ``-t 4``) and against the candidate
server at ``-t 4`` and ``-t 0``; the transcripts must be equal.  A scenario marked
``@with_args(...)`` runs with those extra options on both servers.

Environment:
- ``GEARMAND_DIFF_CANDIDATE=gearmand`` — self-check: the candidate is gearmand too, so every
  scenario must pass gearmand-vs-gearmand (proves the scenarios are deterministic).
  Default: ``gearmand-py``.
- ``GEARMAND_DIFF_DUMP=FILE`` — append the reference transcripts to FILE for reading.
- ``CI=true`` — a missing gearmand fails instead of skipping.
"""

from __future__ import annotations

import os
import pprint

import pytest

from tests.support.prerequisites import require
from tests.support.servers import GEARMAND, gearmand_available

from . import scenarios_admin  # noqa: F401  (registers the admin scenarios in ALL)
from .harness import Entry, Scenario, run_scenario, server_args
from .scenarios import ALL

REFERENCE = ("gearmand", ["-t", "4"])
CANDIDATE = os.environ.get("GEARMAND_DIFF_CANDIDATE", "gearmand-py")
THREADS = ["4", "0"]

_reference: dict[str, list[Entry]] = {}


def require_gearmand() -> None:
    require(gearmand_available(),
            f"Debian's gearmand ({GEARMAND}) is not installed: apt-get install gearman-job-server")


def reference_transcript(scenario: Scenario) -> list[Entry]:
    """gearmand's transcript for ``scenario``, computed once per test session."""
    name = scenario.__name__
    if name not in _reference:
        args = [*REFERENCE[1], *server_args(scenario)]
        _reference[name] = run_scenario(scenario, REFERENCE[0], args)
        dump = os.environ.get("GEARMAND_DIFF_DUMP")
        if dump:
            with open(dump, "a") as f:
                f.write(f"### {name}\n{pprint.pformat(_reference[name], width=120)}\n\n")
    return _reference[name]


@pytest.mark.parametrize("threads", THREADS, ids=[f"{CANDIDATE}-t{t}" for t in THREADS])
@pytest.mark.parametrize("scenario", ALL, ids=[f.__name__ for f in ALL])
def test_same_as_gearmand(scenario: Scenario, threads: str) -> None:
    """The candidate server's clients see exactly what gearmand's clients see."""
    require_gearmand()
    expected = reference_transcript(scenario)
    actual = run_scenario(scenario, CANDIDATE, ["-t", threads, *server_args(scenario)],
                          expected=expected)
    assert actual == expected


def test_scenario_names_unique() -> None:
    names = [f.__name__ for f in ALL]
    assert len(names) == len(set(names))
