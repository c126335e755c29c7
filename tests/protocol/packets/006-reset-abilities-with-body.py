r"""A body on an argc-0 packet is consumed and ignored; the stream stays in sync.

Bytes: b'\x00REQ\x00\x00\x00\x03\x00\x00\x00\x05junk\x00\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T

EVENTS = [
    P(T.RESET_ABILITIES),
    P(T.ECHO_REQ, b"next"),
]
