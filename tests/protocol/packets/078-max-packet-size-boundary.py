r"""max_packet_size 16: a 16-byte body decodes, a 17-byte declaration is refused before its body.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x10xxxxxxxxxxxxxxxx\x00REQ\x00\x00\x00\x10\x00\x00\x00\x11yyyyy'
"""

from tests.protocol.corpus import P, T, TOO_LARGE

MAX_PACKET_SIZE = 16

EVENTS = [
    P(T.ECHO_REQ, b"x" * 16),
    TOO_LARGE,
]
