r"""An admin line of 64 KiB + 1 bytes with no newline: close.

Bytes: 65553 bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04nextxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' ... b'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
"""

from tests.protocol.corpus import CLOSE, P, T

EVENTS = [
    P(T.ECHO_REQ, b"next"),
    CLOSE,
]
