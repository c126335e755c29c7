r"""ECHO_REQ with \0RES magic: ERROR INVALID_MAGIC, and the next packet decodes.

Bytes: b'\x00RES\x00\x00\x00\x10\x00\x00\x00\x02hi\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, RES_MAGIC, T

EVENTS = [
    RES_MAGIC,
    P(T.ECHO_REQ, b"next"),
]
