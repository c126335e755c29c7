r"""OPTION_REQ: NAME (rest).

Bytes: b'\x00REQ\x00\x00\x00\x1a\x00\x00\x00\nexceptions'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.OPTION_REQ, b"exceptions")]
