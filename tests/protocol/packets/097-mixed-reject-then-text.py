r"""Rejected packets keep the stream in sync for following admin lines too.

Bytes: b'\x00REQ\x00\x00\x00\r\x00\x00\x00\x01Hversion\r\n\x00RES\x00\x00\x00\x10\x00\x00\x00\x00status\r\n'
"""

from tests.protocol.corpus import A, RES_MAGIC, TOO_FEW

EVENTS = [
    TOO_FEW,
    A(b"version"),
    RES_MAGIC,
    A(b"status"),
]
