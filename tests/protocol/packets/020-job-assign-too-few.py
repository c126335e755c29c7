r"""JOB_ASSIGN with one NUL.

Bytes: b'\x00REQ\x00\x00\x00\x0b\x00\x00\x00\tH:vm:1\x00fn\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
