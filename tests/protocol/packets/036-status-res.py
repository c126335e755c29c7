r"""STATUS_RES: 4 NULs then the rest.

Bytes: b'\x00REQ\x00\x00\x00\x14\x00\x00\x00\x12H:nosuch:1\x000\x000\x000\x000'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.STATUS_RES, b"H:nosuch:1", b"0", b"0", b"0", b"0")]
