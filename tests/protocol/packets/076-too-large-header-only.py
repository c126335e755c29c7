r"""Header declaring 64 MiB + 1 (default max) with no body: refused as soon as the header is in.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next\x00REQ\x00\x00\x00\x07\x04\x00\x00\x01'
"""

from tests.protocol.corpus import P, T, TOO_LARGE

EVENTS = [
    P(T.ECHO_REQ, b"next"),
    TOO_LARGE,
]
