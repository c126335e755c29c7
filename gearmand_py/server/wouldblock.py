"""What a non-blocking send, recv or TLS handshake raises when it cannot go on now.

Plain sockets raise ``BlockingIOError`` (or ``InterruptedError``). A TLS socket (``tls``) turns
``ssl``'s want-read and want-write errors into these too, so the I/O loop and the processing
thread handle both transports with the same ``except`` and a server without ``--ssl`` never
imports ``ssl`` (about 5 MB of memory).
"""

from __future__ import annotations


class WantWrite(BlockingIOError):
    """A TLS read or handshake that must write first: retry once the socket is writable."""


WOULD_BLOCK = (BlockingIOError, InterruptedError)
