r"""RESET_ABILITIES: argc 0, no fields.

Bytes: b'\x00REQ\x00\x00\x00\x03\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.RESET_ABILITIES)]
