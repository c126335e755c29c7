"""The two systemd protocols a service needs, in the standard library alone.

* Notification (``sd_notify``): datagrams on ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the
  abstract namespace): ``READY=1`` once the server serves, ``STATUS=...`` lines, ``WATCHDOG=1``
  at half of ``$WATCHDOG_USEC``, ``STOPPING=1`` on the way out. Without NOTIFY_SOCKET nothing is
  sent.
* Socket activation (``sd_listen_fds``): with ``LISTEN_PID`` equal to our pid, the
  ``LISTEN_FDS`` descriptors from 3 on are listening sockets to serve on instead of binding.

The variables are removed from the environment once read, so no child process acts on them.
"""

from __future__ import annotations

import logging
import os
import socket

from gearmand_py.process.errors import SetupError

log = logging.getLogger("gearmand_py.process")

#: The first descriptor systemd passes (after stdin, stdout, stderr).
LISTEN_FDS_START = 3


class Notifier:
    """``sd_notify``: one datagram per call; failures are logged, never fatal."""

    def __init__(self) -> None:
        address = os.environ.pop("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address or None
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        #: Seconds between WATCHDOG=1 pings systemd wants (half its timeout); None: no watchdog.
        self.watchdog_every = _watchdog_interval()

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *assignments: str) -> None:
        """Send ``KEY=value`` lines in one datagram."""
        if self._sock is None:
            return
        try:
            self._sock.sendto("\n".join(assignments).encode(), self.address)
        except OSError as e:
            log.warning("systemd notification to %s failed: %s", self.address, e)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_interval() -> float | None:
    usec = os.environ.pop("WATCHDOG_USEC", "")
    pid = os.environ.pop("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6 / 2


def inherited_sockets() -> list[socket.socket]:
    """The listening sockets systemd passed us; empty when none were passed to this process."""
    count = os.environ.pop("LISTEN_FDS", "")
    pid = os.environ.pop("LISTEN_PID", "")
    os.environ.pop("LISTEN_FDNAMES", None)
    if not count or pid != str(os.getpid()):
        return []
    if not count.isdigit():
        raise SetupError(f"LISTEN_FDS={count!r} from systemd is not a number")
    sockets = []
    for fd in range(LISTEN_FDS_START, LISTEN_FDS_START + int(count)):
        try:
            sock = socket.socket(fileno=fd)
        except OSError as e:
            raise SetupError(f"socket activation: descriptor {fd} is not a socket "
                             f"({e.strerror})") from None
        if (sock.type != socket.SOCK_STREAM
                or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
            raise SetupError(f"socket activation: descriptor {fd} is not a listening stream "
                             "socket (use ListenStream= in the .socket unit)")
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            raise SetupError(f"socket activation: descriptor {fd} is not a TCP socket (gear "
                             "is served over TCP only: ListenStream=PORT or ADDRESS:PORT)")
        sock.set_inheritable(False)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets
