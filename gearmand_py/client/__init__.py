"""A Gearman client, worker and admin client built on the server's own protocol package.

Two faces on one connection layer: python-gearman 2.0.2's API (``GearmanClient``,
``GearmanWorker``, ``GearmanAdminClient``; ``gearmand_py.client.compat`` is the import to
replace ``import gearman`` with), and a small modern one: ``Client.submit`` returning futures
and handles, ``Worker.task`` as a decorator, epoch and reduce jobs. Every class takes an
``ssl_context`` (``tls_context`` makes one) for servers started with ``--ssl``.
"""

from gearmand_py.client.admin import GearmanAdminClient
from gearmand_py.client.client import GearmanClient
from gearmand_py.client.errors import (
    ConnectionLost, GearmanError, JobException, JobFailed, ServerUnavailable, SubmitRejected,
)
from gearmand_py.client.submit import Client, JobFuture, JobHandle, JobStatus
from gearmand_py.client.tasks import Job, Worker
from gearmand_py.client.tls import tls_context
from gearmand_py.client.worker import GearmanWorker

__all__ = [
    "Client", "ConnectionLost", "GearmanAdminClient", "GearmanClient", "GearmanError",
    "GearmanWorker", "Job", "JobException", "JobFailed", "JobFuture", "JobHandle", "JobStatus",
    "ServerUnavailable", "SubmitRejected", "Worker", "tls_context",
]
