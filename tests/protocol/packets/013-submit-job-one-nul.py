r"""SUBMIT_JOB with one NUL: rejected, and the next packet still decodes.

Bytes: b'\x00REQ\x00\x00\x00\x07\x00\x00\x00\nfn\x00payload\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
