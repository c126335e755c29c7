r"""A complete packet then 11 header bytes: 11 buffered.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next\x00REQ\x00\x00\x00\x10\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

BUFFERED = 11

EVENTS = [P(T.ECHO_REQ, b"next")]
