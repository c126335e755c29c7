r"""PRE_SLEEP.

Bytes: b'\x00REQ\x00\x00\x00\x04\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.PRE_SLEEP)]
