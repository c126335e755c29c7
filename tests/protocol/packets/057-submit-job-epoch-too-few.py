r"""SUBMIT_JOB_EPOCH with 2 NULs.

Bytes: b'\x00REQ\x00\x00\x00$\x00\x00\x00\x0ffn\x00u\x001700000000\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
