"""py3gearman 0.2.0 (import name ``py3gearman``).

Quirks: ``submit_job()`` defaults to ``background=True`` (the shared tests always pass it);
payloads are decoded as UTF-8, so results are str.
"""

from __future__ import annotations

from ._python_gearman_family import PythonGearmanFamilyTests


class TestPy3gearman(PythonGearmanFamilyTests):
    """py3gearman client, worker and admin client."""

    module_name = "py3gearman"
    pip_name = "py3gearman"
    bytes_names = False
    prefix = "py3g"
