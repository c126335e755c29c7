"""A Gearman client, worker and admin client built on the server's own protocol package.

python-gearman 2.0.2's API (``GearmanClient``, ``GearmanWorker``, ``GearmanAdminClient``) is the
face, ``gearmand_py.client.compat`` the import to replace ``import gearman`` with.
"""

from gearmand_py.client.admin import GearmanAdminClient
from gearmand_py.client.client import GearmanClient
from gearmand_py.client.worker import GearmanWorker

__all__ = ["GearmanAdminClient", "GearmanClient", "GearmanWorker"]
