r"""CAN_DO: argc 1, no data: the function is the whole body.

Bytes: b'\x00REQ\x00\x00\x00\x01\x00\x00\x00\x07reverse'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.CAN_DO, b"reverse")]
