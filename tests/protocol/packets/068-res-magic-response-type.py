r"""\0RES magic on response types too; each is consumed whole.

Bytes: b'\x00RES\x00\x00\x00\x08\x00\x00\x00\x06H:vm:1\x00RES\x00\x00\x00\x06\x00\x00\x00\x00\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, RES_MAGIC, T

EVENTS = [
    RES_MAGIC,
    RES_MAGIC,
    P(T.ECHO_REQ, b"next"),
]
