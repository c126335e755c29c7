r"""STATUS_RES with 3 NULs.

Bytes: b'\x00REQ\x00\x00\x00\x14\x00\x00\x00\x07H\x000\x000\x000\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
