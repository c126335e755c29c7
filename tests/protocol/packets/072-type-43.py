r"""Type 43 (GEARMAN_COMMAND_MAX): close.

Bytes: b'version\r\n\x00REQ\x00\x00\x00+\x00\x00\x00\x00\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import A, CLOSE

EVENTS = [
    A(b"version"),
    CLOSE,
]
