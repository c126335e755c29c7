r"""ECHO_REQ with empty data.

Bytes: b'\x00REQ\x00\x00\x00\x10\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.ECHO_REQ, b"")]
