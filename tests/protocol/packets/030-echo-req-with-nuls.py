r"""ECHO_REQ data may contain NULs.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x0bhello\x00world'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.ECHO_REQ, b"hello\0world")]
