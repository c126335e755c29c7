r"""WORK_COMPLETE without NUL: gearmand waits and desynchronises; we reject and stay in sync.

Bytes: b'\x00REQ\x00\x00\x00\r\x00\x00\x00\x06H:vm:4\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
