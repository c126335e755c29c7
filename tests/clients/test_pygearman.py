"""pygearman 0.2.6 (import name ``gearman``), the Python 3 fork of python-gearman.

Quirk: worker task names must be bytes (a str name never matches the bytes function name in
JOB_ASSIGN_UNIQ: AssertionError); results come back as bytes. Its admin client also has
``get_pid`` (text ``getpid``), tested here.
"""

from __future__ import annotations

from typing import Any

from tests.support.servers import ServerProcess

from ._python_gearman_family import PythonGearmanFamilyTests


class TestPygearman(PythonGearmanFamilyTests):
    """pygearman client, worker and admin client."""

    module_name = "gearman"
    pip_name = "pygearman"
    bytes_names = True
    prefix = "pyg"

    def test_admin_getpid(self, admin: Any, server: ServerProcess) -> None:
        """get_pid sends text ``getpid`` and returns ``OK <pid>``."""
        assert admin.get_pid() == f"OK {server.proc.pid}"
