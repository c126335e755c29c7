r"""Six tokens: silent close after the events before it, nothing after.

Bytes: b'version\r\na b c d e f\r\nversion\r\n\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import A, CLOSE

EVENTS = [
    A(b"version"),
    CLOSE,
]
