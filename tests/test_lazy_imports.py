"""A server without --ssl, -r http or --syslog does not load what only those need: ssl (about
5 MB of memory), httptools and logging.handlers. The idle server's memory is part of what it
costs (docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.servers import repo_env

HEAVY = ("ssl", "_ssl", "httptools", "logging.handlers", "prometheus_client", "http.server",
         "gearmand_py.server.monitor", "gearmand_py.server.exposition",
         "gearmand_py.server.wire", "gearmand_py.core.stats", "gearmand_py.core.snapshot")


def test_the_server_loads_no_tls_http_or_syslog_code_it_does_not_use() -> None:
    program = ("import sys\n"
               "from gearmand_py.process import startup\n"
               "from gearmand_py.server import io_loop, processor, server\n"
               f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env=repo_env(), timeout=60, check=True)
    assert done.stdout.split() == []
