r"""CAN_DO with an empty body: one empty field.

Bytes: b'\x00REQ\x00\x00\x00\x01\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.CAN_DO, b"")]
