r"""WORK_STATUS with one NUL.

Bytes: b'\x00REQ\x00\x00\x00\x0c\x00\x00\x00\x08H:vm:4\x001\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
