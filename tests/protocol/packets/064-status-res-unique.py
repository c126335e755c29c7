r"""STATUS_RES_UNIQUE: 5 NULs then the rest.

Bytes: b'\x00REQ\x00\x00\x00*\x00\x00\x00\x0cu1\x001\x000\x000\x000\x000'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.STATUS_RES_UNIQUE, b"u1", b"1", b"0", b"0", b"0", b"0")]
