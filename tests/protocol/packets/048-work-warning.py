r"""WORK_WARNING.

Bytes: b'\x00REQ\x00\x00\x00\x1d\x00\x00\x00\x0cH:vm:4\x00warn\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_WARNING, b"H:vm:4", b"warn\0")]
