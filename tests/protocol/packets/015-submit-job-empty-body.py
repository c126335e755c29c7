r"""SUBMIT_JOB with an empty body: rejected.

Bytes: b'\x00REQ\x00\x00\x00\x07\x00\x00\x00\x00\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
