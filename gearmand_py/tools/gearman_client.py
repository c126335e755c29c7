"""gearman's client mode: one job per function for each workload, printed as it arrives.

Workloads are the operands, or else standard input: all of it, one line at a time (``-n``, read
as ``fgets`` reads, so a line longer than its buffer is several jobs), or nothing (``-s``).
``-N`` drops each line's last byte, newline or not, as gearman does. A job's data and result go
to stdout, warnings to stderr, a failure is ``Job failed`` on stderr and exit status 1; errors
from the library are reported and the next workload goes on, exit status unchanged.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from typing import Any, BinaryIO

from gearmand_py.client.client import GearmanClient
from gearmand_py.client.errors import ServerUnavailable, TlsFailed
from gearmand_py.client.jobs import JOB_UNKNOWN, BytesEncoder, GearmanJobRequest, to_bytes
from gearmand_py.client.servers import Address
from gearmand_py.protocol.numbers import atou32
from gearmand_py.protocol.packets import NUMBERS
from gearmand_py.tools import gearman_output as output
from gearmand_py.tools.gearman_args import Args

#: fgets' buffer in gearman's ``-n`` loop; a line is at most one byte less.
LINE_BUFFER = 8192
N = NUMBERS
LABEL = "gearman_client_run_tasks"


class CliClient(GearmanClient):
    """Prints each job's packets the way gearman's callbacks do."""

    data_encoder = BytesEncoder

    def __init__(self, addresses: list[Address], args: Args, out: output.Stdout,
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__(addresses, ssl_context=tls)
        self.addresses = addresses
        self.args = args
        self.out = out
        self.failed = False

    def run(self, workload: bytes) -> None:
        """Submit ``workload`` to every function and wait for all of them."""
        args = self.args
        jobs = [dict(task=function, data=workload, unique=args.unique or str(uuid.uuid1()),
                     priority=args.priority) for function in args.functions]
        timeout = args.timeout / 1000 if args.timeout >= 0 else None
        try:
            requests = self.submit_multiple_jobs(jobs, background=args.background,
                                                 poll_timeout=timeout)
        except ServerUnavailable as exc:
            failed = [str(cause) for cause in exc.causes if isinstance(cause, TlsFailed)]
            if failed:
                output.message(LABEL, _ssl_failure(failed[0]))
                return
            requests = None
        lost = [] if requests is None else \
            [request.job.connection for request in requests if request.state == JOB_UNKNOWN]
        tls_errors = [str(conn.failure) for conn in lost if isinstance(conn.failure, TlsFailed)]
        if tls_errors:  # e.g. the server refused the client certificate after the handshake
            output.message(LABEL, _ssl_failure(tls_errors[0]))
        elif requests is None or lost:
            output.message(LABEL, output.could_not_connect(self.addresses[0]))
        elif any(request.timed_out for request in requests):
            output.message(LABEL, output.timed_out(len(self.addresses), worker=False))

    def on_job_packet(self, request: GearmanJobRequest, ptype: int, args: Any) -> None:
        prefix = to_bytes(request.job.task) + b": " if self.args.prefix else b""
        if ptype == N.JOB_CREATED:
            if self.args.verbose:
                self.out.printf(b"Task created: " + bytes(args[0]) + b"\n")
        elif ptype in (N.WORK_DATA, N.WORK_COMPLETE):
            if prefix:
                self.out.printf(prefix)
                self.out.fflush()
            self.out.write(bytes(args[1]))
        elif ptype in (N.WORK_WARNING, N.WORK_EXCEPTION):
            output.write_all(2, prefix + bytes(args[1]))
        elif ptype == N.WORK_STATUS:
            denominator = atou32(bytes(args[2]))
            if denominator:
                percent = (atou32(bytes(args[1])) * 100 & 0xFFFFFFFF) // denominator
                self.out.printf(prefix + b"%d%% Complete\n" % percent)
        elif ptype == N.WORK_FAIL:
            output.write_all(2, prefix + b"Job failed\n")
            self.failed = True


def _ssl_failure(reason: str) -> str:
    """libgearman's report of a TLS failure (GEARMAN_LOST_CONNECTION), with our reason in place
    of OpenSSL's error code."""
    return f"flush(GEARMAN_LOST_CONNECTION) SSL failure({reason})"


def workloads(args: Args, stdin: BinaryIO) -> Iterator[bytes]:
    """Each job's data, in the order gearman sends them."""
    if args.operands:
        yield from map(to_bytes, args.operands)
    elif args.suppress_input:
        yield b""
    elif args.job_per_newline:
        while line := stdin.readline(LINE_BUFFER - 1):
            line = line.split(b"\0", 1)[0]  # gearman takes strlen() of what fgets read
            yield line[:-1] if args.strip_newline else line
    else:
        yield stdin.read()


def run(args: Args, addresses: list[Address], stdin: BinaryIO,
        tls: ssl.SSLContext | None = None) -> int:
    out = output.Stdout()
    client = CliClient(addresses, args, out, tls)
    try:
        for workload in workloads(args, stdin):
            client.run(workload)
    finally:
        client.shutdown()
        out.fflush()
    return 1 if client.failed else 0
