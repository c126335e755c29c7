r"""WORK_EXCEPTION without NUL.

Bytes: b'\x00REQ\x00\x00\x00\x19\x00\x00\x00\x06H:vm:5\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
