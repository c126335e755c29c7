r"""WORK_COMPLETE with empty data.

Bytes: b'\x00REQ\x00\x00\x00\r\x00\x00\x00\x07H:vm:4\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_COMPLETE, b"H:vm:4", b"")]
