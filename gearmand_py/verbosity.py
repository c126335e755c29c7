"""Whether INFO and DEBUG records are logged, as two flags that ``logs`` sets with the level.

The per-connection and per-job log lines check one of them, which costs an attribute read where
``logger.isEnabledFor`` costs a call on every packet. The module is compiled with the hot paths:
there ``verbosity`` is a C static and its flags are fields, not lookups.
"""

from __future__ import annotations

import logging
from typing import Final


class Verbosity:
    """The two flags, refreshed whenever the log level is set."""

    __slots__ = ("info", "debug")

    def __init__(self) -> None:
        self.info = False
        self.debug = False

    def refresh(self, level: int) -> None:
        """Follow ``level``, the server logger's effective level."""
        self.info = level <= logging.INFO
        self.debug = level <= logging.DEBUG


verbosity: Final = Verbosity()
