r"""OPTION_RES (response type).

Bytes: b'\x00REQ\x00\x00\x00\x1b\x00\x00\x00\nexceptions'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.OPTION_RES, b"exceptions")]
