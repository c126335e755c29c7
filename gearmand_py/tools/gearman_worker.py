"""gearman's worker mode: ``-w -f F [-- command args]``.

With a command, each job runs it with the workload on its stdin and returns its stdout; with
``-n``/``-N`` each line of that output is sent as it comes as WORK_DATA of everything read so far
(gearman never empties its buffer between lines) and the result is empty. A command that exits
non-zero fails the job, after sending what it printed. Without a command the workload is echoed
to our own stdout and the result is empty. ``-c N`` stops after N jobs or timeouts.

SIGTERM while a job is held lets that job finish (its result is sent) before the worker exits
with status 0; while idle it exits at once. gearman itself just dies, and the server gives the
job to another worker.
"""

from __future__ import annotations

import signal
import ssl
import subprocess
import threading
from typing import IO, Any

from gearmand_py.client.errors import ConnectionLost, CouldNotConnect
from gearmand_py.client.jobs import BytesEncoder, GearmanJob
from gearmand_py.client.servers import Address
from gearmand_py.client.worker import GearmanWorker
from gearmand_py.tools import gearman_output as output
from gearmand_py.tools.gearman_args import Args

#: fgets' buffer in gearman's per-line loop.
LINE_BUFFER = 1024
#: How long ``work`` waits between checks when there is no ``-t``: nothing is checked, so long.
NO_TIMEOUT = 3600.0
LABEL = "gearman_worker_work"


class Stop(Exception):
    """SIGTERM arrived while no job was held."""


class CommandFailed(Exception):
    """The job's command exited non-zero or could not run."""


class CliWorker(GearmanWorker):
    data_encoder = BytesEncoder

    def __init__(self, addresses: list[Address], args: Args,
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__(addresses, ssl_context=tls)
        self.args = args
        self.servers = len(addresses)
        self.left = args.count
        self.holding = False
        self.stopping = False
        for function in args.functions:
            self.register_task(function, self.run_job)

    def on_sigterm(self, signum: int, frame: Any) -> None:
        if not self.holding:
            raise Stop()
        self.stopping = True

    def on_job_execute(self, current_job: GearmanJob) -> bool:
        self.holding = True
        try:
            return super().on_job_execute(current_job)
        finally:
            self.holding = False

    def on_job_exception(self, current_job: GearmanJob, exc_info: Any) -> bool:
        self.send_job_failure(current_job)
        output.message(LABEL, "GEARMAN_UNKNOWN_STATE")
        return False

    def on_server_error(self, address: Address, error: ConnectionLost) -> None:
        """Say why each attempt failed, as libgearman's worker does (it says it in a loop with
        no delay; here each line is one try of the backoff)."""
        if isinstance(error, CouldNotConnect):
            output.message(LABEL, output.could_not_connect(address))
        else:
            output.message(LABEL, f"{address}: {error}")

    def after_poll(self, any_activity: bool) -> bool:
        if any_activity or self.args.timeout < 0:
            return True
        output.message(LABEL, output.timed_out(self.servers, worker=True))
        return self._counted()

    def after_job(self) -> bool:
        return self._counted() and not self.stopping

    def _counted(self) -> bool:
        """Count one return of gearman's work loop; False once ``-c`` is reached."""
        if self.left > 0:
            self.left -= 1
            return self.left > 0
        return True

    def run_job(self, worker: GearmanWorker, job: GearmanJob) -> bytes:
        if not self.args.operands:
            output.write_all(1, job.data)
            return b""
        try:
            child = subprocess.Popen(self.args.operands, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        except OSError as exc:
            output.perror("execvp", exc)
            raise CommandFailed() from exc
        feeder = threading.Thread(target=_feed, args=(child.stdin, job.data), daemon=True)
        feeder.start()
        assert child.stdout is not None
        if self.args.job_per_newline:
            printed = b""
            while line := child.stdout.readline(LINE_BUFFER - 1):
                printed += line
                self.send_job_data(job, printed[:-1] if self.args.strip_newline else printed)
            result = b""
        else:
            result = child.stdout.read()
        child.stdout.close()
        feeder.join()
        if child.wait() > 0:
            if result:
                self.send_job_data(job, result)
            raise CommandFailed()
        return result


def _feed(stdin: IO[bytes] | None, data: bytes) -> None:
    """Write the workload to a command that may exit without reading it."""
    assert stdin is not None
    try:
        stdin.write(data)
        stdin.flush()
    except BrokenPipeError:
        pass
    finally:
        try:
            stdin.close()
        except BrokenPipeError:
            pass


def run(args: Args, addresses: list[Address], tls: ssl.SSLContext | None = None) -> int:
    worker = CliWorker(addresses, args, tls)
    signal.signal(signal.SIGTERM, worker.on_sigterm)
    poll_timeout = args.timeout / 1000 if args.timeout >= 0 else NO_TIMEOUT
    try:
        worker.work(poll_timeout)
    except Stop:
        worker.shutdown()
    return 0
