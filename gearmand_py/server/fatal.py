"""What a server thread does with an exception nothing closer to its cause could handle.

A request that fails costs its connection only (the processor and the I/O loops catch those).
Anything that escapes a thread's loop means the tables or the sockets can no longer be trusted,
and a thread that just died would leave a process that listens but never answers, which looks
alive to a supervisor. So the failure is logged and the whole server stops with EXIT_SOFTWARE,
at every ``-t``, for the supervisor to restart it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger("gearmand_py.server")

#: The exit status after an internal failure (sysexits.h's EX_SOFTWARE).
EXIT_SOFTWARE = getattr(os, "EX_SOFTWARE", 70)


def guarded(run: Callable[[], None], on_fatal: Callable[[], None]) -> Callable[[], None]:
    """``run`` as a thread target that calls ``on_fatal`` if an exception escapes it."""
    def target() -> None:
        try:
            run()
        except BaseException:
            log.critical("internal error in the %s thread; stopping the server",
                         threading.current_thread().name, exc_info=True)
            on_fatal()
    return target


def thread(run: Callable[[], None], name: str, on_fatal: Callable[[], None]) -> threading.Thread:
    """A daemon thread running ``run``, guarded."""
    return threading.Thread(target=guarded(run, on_fatal), name=name, daemon=True)
