r"""Magic that is neither \0REQ nor \0RES: silent close after the events before it, nothing after.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next\x00XYZ\x00\x00\x00\x10\x00\x00\x00\x02hi\x00REQ\x00\x00\x00\x10\x00\x00\x00\x05after'
"""

from tests.protocol.corpus import CLOSE, P, T

EVENTS = [
    P(T.ECHO_REQ, b"next"),
    CLOSE,
]
