r"""CAN_DO "fn\0" keeps the NUL: gearmand registers a different function named "fn\0".

Bytes: b'\x00REQ\x00\x00\x00\x01\x00\x00\x00\x03fn\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.CAN_DO, b"fn\0")]
