r"""CAN_DO_TIMEOUT: FUNC\0 TIMEOUT.

Bytes: b'\x00REQ\x00\x00\x00\x17\x00\x00\x00\x06fn\x00100'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.CAN_DO_TIMEOUT, b"fn", b"100")]
