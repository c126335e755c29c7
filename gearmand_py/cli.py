"""The ``gearmand-py`` command: gearmand's command line, then the server.

``main`` parses the options (:mod:`gearmand_py.settings`), refuses the ones gearmand-py cannot
honour (better than silently running without what the user asked for), and hands the typed
settings to the start-up sequence (:mod:`gearmand_py.process.startup`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from gearmand_py.settings import HTTP_PORT, PROG, Config, parse_args
from queue_backends import registry


def refused(settings: argparse.Namespace) -> list[str]:
    """Why the options cannot be honoured: a protocol module gearmand-py lacks, --http-port
    without -r http, a queue type gearmand-py lacks (Tokyo Cabinet)."""
    messages = []
    if settings.protocol not in (None, "http"):
        messages.append(f"Unknown protocol module : {settings.protocol}")  # gearmand's words
    elif settings.protocol is None and settings.http_port is not None:
        messages.append("--http-port needs -r http")
    elif settings.protocol == "http" and (settings.http_port or HTTP_PORT) == settings.port:
        messages.append(f"--http-port {settings.port} is the Gear port (-p) too")
    queue = registry.find(settings.queue_type)
    if queue is not None and queue.module is None:
        messages.append(f"--queue-type {settings.queue_type}: {queue.unavailable}")
    return messages


def main(argv: Sequence[str] | None = None) -> int:
    """Run gearmand-py with a gearmand command line; returns the exit status."""
    try:
        settings = parse_args(argv)
    except SystemExit as stop:  # -h, -V, or a bad option (already reported)
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    messages = refused(settings)
    for message in messages:
        print(f"{PROG}: {message}", file=sys.stderr)
    if messages:
        return 1
    if settings.check_args:
        return 0
    try:
        from gearmand_py.process import startup  # the server's imports, only when serving

        return startup.run(Config.from_options(settings))
    except KeyboardInterrupt:  # before the start-up steps handle SIGINT themselves
        print(f"{PROG}: interrupted by SIGINT during startup", file=sys.stderr)
        return 1
