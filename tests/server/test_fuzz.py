"""A bounded socket-level fuzz run against a real server at -t 0 and -t 4 (scripts/fuzz is the
long one): hostile connections send valid and broken packets and admin lines and disconnect at
random (RST included) while a well-behaved worker and client keep completing jobs. The server
must stay up and serving, log no internal error, bring the pair's function back to zero in
``status`` and keep its RSS bounded once the jobs it rightly queued are drained.
"""

from __future__ import annotations

import pytest

from tests.server.test_process import THREADS
from tests.support import socket_fuzz
from tests.support.servers import start_server

SEED = 20261202
SECONDS = 4.0
CONNECTIONS = 20
ROUNDS = 2
#: RSS after the second drain against RSS after the first.
RSS_GROWTH_KIB = 64 * 1024


@pytest.mark.parametrize("args", THREADS)
def test_fuzzed_server_keeps_serving(args: list[str]) -> None:
    server = start_server("gearmand-py", args)
    try:
        report = socket_fuzz.run(server, SECONDS, SEED, CONNECTIONS, ROUNDS)
        found = socket_fuzz.problems(server, report, RSS_GROWTH_KIB)
    finally:
        server.stop()
    assert not found, report.summary() + "\n" + "\n".join(found)
