r"""Binary type 0 (TEXT): close.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next\x00REQ\x00\x00\x00\x00\x00\x00\x00\x06statusversion\r\n'
"""

from tests.protocol.corpus import CLOSE, P, T

EVENTS = [
    P(T.ECHO_REQ, b"next"),
    CLOSE,
]
