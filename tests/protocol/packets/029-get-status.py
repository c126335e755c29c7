r"""GET_STATUS: HANDLE (rest).

Bytes: b'\x00REQ\x00\x00\x00\x0f\x00\x00\x00\nH:nosuch:1'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.GET_STATUS, b"H:nosuch:1")]
