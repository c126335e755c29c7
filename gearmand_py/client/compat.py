"""python-gearman 2.0.2's module surface: ``import gearmand_py.client.compat as gearman`` in
place of ``import gearman`` runs a python-gearman script unchanged."""

from gearmand_py.client.admin import GearmanAdminClient
from gearmand_py.client.client import GearmanClient
from gearmand_py.client.errors import (
    ConnectionLost as ConnectionError, GearmanError, InvalidAdminClientState, ProtocolError,
    ServerUnavailable,
)
from gearmand_py.client.jobs import (
    JOB_COMPLETE, JOB_CREATED, JOB_FAILED, JOB_PENDING, JOB_UNKNOWN, PRIORITY_HIGH, PRIORITY_LOW,
    PRIORITY_NONE, BytesEncoder, GearmanJob, GearmanJobRequest, TextEncoder,
)
from gearmand_py.client.worker import GearmanWorker

__version__ = "2.0.2"

__all__ = [
    "JOB_COMPLETE", "JOB_CREATED", "JOB_FAILED", "JOB_PENDING", "JOB_UNKNOWN", "PRIORITY_HIGH",
    "PRIORITY_LOW", "PRIORITY_NONE", "BytesEncoder", "ConnectionError", "GearmanAdminClient",
    "GearmanClient", "GearmanError", "GearmanJob", "GearmanJobRequest", "GearmanWorker",
    "InvalidAdminClientState", "ProtocolError", "ServerUnavailable", "TextEncoder",
]
