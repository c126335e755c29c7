"""The text admin commands, answered from the processing core's tables.

Command words and keywords are matched case-insensitively and argument counts are checked as in
gearmand 1.1.20's ``text.cc``; replies are built with ``protocol.admin`` so their bytes (and
gearmand's inconsistent line endings) live in one place. gearmand lists functions and jobs in hash
order; gearmand-py lists them in creation order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from gearmand_py.core.engine import Engine
from gearmand_py.core.model import PRIORITIES, Function, Peer
from gearmand_py.protocol import admin as reply
from gearmand_py.protocol.numbers import atoi

UNKNOWN_ERROR = reply.err(b"UNKNOWN_ERROR")
UNKNOWN_JOB = reply.err(b"UNKNOWN_JOB")
UNKNOWN_SHOW_ARGUMENTS = reply.err(b"UNKNOWN_SHOW_ARGUMENTS")
FUNCTION_NOT_FOUND = reply.err(b"function not found")
SHUTDOWN_DENIED = reply.err(b"PERMISSION_DENIED Shutdown+is+only+accepted+from+a+loopback+address")


@dataclass(frozen=True)
class ServerInfo:
    """What the admin commands need from outside the core."""

    version: bytes
    pid: int
    verbose: Callable[[], str]
    #: Stop the server; True for a graceful stop (finish queued jobs first).
    shutdown: Callable[[bool], None] = lambda graceful: None


def function_holders(function: Function) -> bytes:
    """What keeps ``function`` from being dropped, e.g. ``connected workers and queued jobs``;
    empty when nothing does. Queued jobs include epoch jobs not due yet."""
    queued = function.job_total - function.job_running
    held = [what for count, what in ((function.worker_count, b"connected workers"),
                                     (function.job_running, b"running jobs"),
                                     (queued, b"queued jobs")) if count]
    if len(held) > 1:
        return b", ".join(held[:-1]) + b" and " + held[-1]
    return b"".join(held)


def status(engine: Engine) -> bytes:
    """``FUNC\\tTOTAL\\tRUNNING\\tWORKERS`` for every function ever referenced."""
    return reply.listing(
        reply.tab_row(f.name, b"%d" % f.job_total, b"%d" % f.job_running, b"%d" % f.worker_count)
        for f in engine.functions.values())


def priority_status(engine: Engine) -> bytes:
    """``FUNC\\tHIGH\\tNORMAL\\tLOW\\tWORKERS``: jobs waiting (not running) per priority."""
    rows = []
    for f in engine.functions.values():
        waiting = [len(f.queues[p]) for p in PRIORITIES]
        waiting[1] += f.scheduled  # epoch jobs are normal-priority jobs not due yet
        rows.append(reply.tab_row(f.name, *(b"%d" % n for n in waiting), b"%d" % f.worker_count))
    return reply.listing(rows)


def workers(engine: Engine) -> bytes:
    """``FD IP ID : FUNCTIONS`` for every connection, newest first (admin connections too)."""
    lines = []
    for peer in reversed(engine.peers.values()):
        names = b"".join(b" " + f.name for f in peer.functions)
        lines.append(b"%d %s %s :%s" % (peer.fd, peer.ip.encode(), peer.client_id, names))
    return reply.listing(lines)


def show_jobs(engine: Engine) -> bytes:
    """``HANDLE\\tRETRIES\\tIGNORE_JOB\\tJOB_QUEUED``; JOB_QUEUED is 1 for a background job that
    is still to be run, as gearmand reports it."""
    return reply.listing(
        reply.tab_row(job.handle, b"%d" % job.retries, b"%d" % (job.cancelled or job.abandoned),
                      b"%d" % (job.background and not job.cancelled))
        for job in engine.jobs.values())


def show_unique_jobs(engine: Engine) -> bytes:
    """One line per job: its unique (an empty line for a job without one)."""
    return reply.listing(job.unique for job in engine.jobs.values())


def is_loopback(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class Admin:
    """Answers one admin line with the bytes gearmand would send."""

    def __init__(self, info: ServerInfo) -> None:
        self.info = info

    def __call__(self, engine: Engine, peer: Peer, tokens: tuple[bytes, ...]) -> bytes:
        word = tokens[0].lower()
        argc = len(tokens)
        if word == b"workers":
            return workers(engine)
        if word == b"status":
            return status(engine)
        if word == b"prioritystatus":
            return priority_status(engine)
        if word == b"cancel" and argc >= 3:
            if argc == 3 and tokens[1].lower() == b"job":
                if engine.cancel(tokens[2]):
                    return reply.OK
                row = engine.shared.row_id(tokens[2]) if engine.shared is not None else None
                if row is None:
                    return UNKNOWN_JOB
                # A job in the shared store that no server holds: deleted there. The reply is
                # held until the store answers; nothing is sent now.
                engine.ask_store(peer, ("cancel", row),
                                 lambda cancelled: reply.OK if cancelled else UNKNOWN_JOB)
                return b""
            return UNKNOWN_ERROR
        if word == b"show" and argc >= 2:
            return self._show(engine, tokens)
        if word == b"create":
            if argc == 3 and tokens[1].lower() == b"function":
                engine.function(tokens[2]).declared = True
                return reply.OK
            return reply.err_invalid_arguments(tokens[0])
        if word == b"drop":
            if argc == 3 and tokens[1].lower() == b"function":
                return self._drop_function(engine, tokens[2])
            return reply.err_invalid_arguments(tokens[0])
        if word == b"maxqueue":
            return self._maxqueue(engine, tokens)
        if word == b"getpid":
            return reply.ok_value(b"%d" % self.info.pid)
        if word == b"shutdown":
            return self._shutdown(peer, tokens)
        if word == b"verbose":
            return reply.ok_value(self.info.verbose().encode())
        if word == b"version":
            return reply.ok_value(self.info.version)
        return reply.err_unknown_command(tokens[0])

    @staticmethod
    def _show(engine: Engine, tokens: tuple[bytes, ...]) -> bytes:
        words = [t.lower() for t in tokens[1:]]
        if words == [b"unique", b"jobs"]:
            return show_unique_jobs(engine)
        if words == [b"jobs"]:
            return show_jobs(engine)
        return UNKNOWN_SHOW_ARGUMENTS

    @staticmethod
    def _drop_function(engine: Engine, name: bytes) -> bytes:
        """gearmand matches the name case-insensitively; unlike gearmand, a function with queued
        jobs is not dropped (gearmand frees it under them), and the refusal names what holds
        the function rather than gearmand's "connected workers or executing clients"."""
        wanted = name.lower()
        for function in engine.functions.values():
            if function.name.lower() == wanted:
                holders = function_holders(function)
                if holders:
                    return reply.err(b"there are still " + holders)
                engine.functions.forget(function)
                return reply.OK
        return FUNCTION_NOT_FOUND

    @staticmethod
    def _maxqueue(engine: Engine, tokens: tuple[bytes, ...]) -> bytes:
        """``maxqueue FUNC [N]`` limits every priority; ``maxqueue FUNC H N L`` each one (missing
        values are 0, unlimited; negative values too). An unknown function is not created."""
        if len(tokens) == 1:
            return reply.err_invalid_arguments(tokens[0])
        limits = [max(atoi(value), 0) for value in tokens[2:5]]
        limits += [0] * (3 - len(limits))
        if len(tokens) <= 3:
            limits = [limits[0]] * 3
        function = engine.functions.get(tokens[1])
        if function is not None:
            function.max_queue = limits
        return reply.OK

    def _shutdown(self, peer: Peer, tokens: tuple[bytes, ...]) -> bytes:
        """Removed from gearmand in 1.1.15 because anyone could stop the server; gearmand-py
        accepts it from loopback connections only."""
        if len(tokens) == 1:
            graceful = False
        elif len(tokens) == 2 and tokens[1].lower() == b"graceful":
            graceful = True
        else:
            return reply.err_invalid_arguments(tokens[0])
        if not is_loopback(peer.ip):
            return SHUTDOWN_DENIED
        self.info.shutdown(graceful)
        return reply.OK
