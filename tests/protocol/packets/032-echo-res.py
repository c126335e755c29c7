r"""ECHO_RES (response type).

Bytes: b'\x00REQ\x00\x00\x00\x11\x00\x00\x00\x02x\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.ECHO_RES, b"x\0")]
