r"""A complete packet then a header and 3 body bytes.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next\x00REQ\x00\x00\x00\x07\x00\x00\x00\tfn\x00'
"""

from tests.protocol.corpus import P, T

BUFFERED = 15

EVENTS = [P(T.ECHO_REQ, b"next")]
