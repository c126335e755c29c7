"""python3-gearman 0.1.0 (import name ``python3_gearman``).

Quirk: task names must be str (bytes names raise ProtocolError); results come back as str.
"""

from __future__ import annotations

from ._python_gearman_family import PythonGearmanFamilyTests


class TestPython3Gearman(PythonGearmanFamilyTests):
    """python3-gearman client, worker and admin client."""

    module_name = "python3_gearman"
    pip_name = "python3-gearman"
    bytes_names = False
    prefix = "p3g"
