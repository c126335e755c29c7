"""How a start-up step fails: one line for the user, exit status 1, never a traceback."""

from __future__ import annotations


class SetupError(Exception):
    """A start-up step failed; the message names the option and the cause."""


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGUSR1 arrived before the server served.

    A BaseException, as KeyboardInterrupt is, so the database drivers' ``except Exception``
    blocks let it through.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"interrupted by {signal_name} during startup")
