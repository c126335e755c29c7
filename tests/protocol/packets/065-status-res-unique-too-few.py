r"""STATUS_RES_UNIQUE with 4 NULs.

Bytes: b'\x00REQ\x00\x00\x00*\x00\x00\x00\nu1\x001\x000\x000\x000\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
