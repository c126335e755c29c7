"""-P/--pid-file: our pid, written once we are the process that serves (the daemon's child)."""

from __future__ import annotations

import logging
import os
import stat

from gearmand_py.process.errors import SetupError
from gearmand_py.settings import DEFAULT_PID_FILE

log = logging.getLogger("gearmand_py.process")


class PidFile:
    """A written pid file, removed again by :meth:`remove`."""

    def __init__(self, path: str) -> None:
        #: Absolute, so removing it does not depend on the working directory.
        self.path = os.path.abspath(path)

    @classmethod
    def write(cls, path: str) -> PidFile | None:
        """Write our pid; None if it could not be written. As in gearmand, only a pid file the
        user asked for must succeed (SetupError otherwise)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()}\n")
                regular = stat.S_ISREG(os.fstat(f.fileno()).st_mode)
        except OSError as e:
            message = f"Could not open pid file for writing: {path} ({e.strerror})"
            if path != DEFAULT_PID_FILE:
                raise SetupError(message) from None
            log.warning(message)
            return None
        # -P /dev/null (or another device) is written as gearmand writes it, but is not ours to
        # remove: as root, removing /dev/null breaks the whole machine.
        return cls(path) if regular else None

    def remove(self) -> None:
        """Remove it at exit. After -u the directory may not let us: then it is emptied, so it
        names no process that could be another's by the time someone reads it."""
        try:
            if not stat.S_ISREG(os.lstat(self.path).st_mode):
                return  # replaced since by something that is not a pid file
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            try:
                os.truncate(self.path, 0)
            except OSError:
                pass
            log.warning("Could not remove pid file %s (%s)", self.path, e.strerror)
