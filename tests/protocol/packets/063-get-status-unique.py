r"""GET_STATUS_UNIQUE: UNIQUE (rest).

Bytes: b'\x00REQ\x00\x00\x00)\x00\x00\x00\x02u1'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.GET_STATUS_UNIQUE, b"u1")]
