r"""WORK_STATUS: HANDLE\0 NUM\0 DEN (DEN is the rest, no NUL).

Bytes: b'\x00REQ\x00\x00\x00\x0c\x00\x00\x00\nH:vm:4\x001\x004'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_STATUS, b"H:vm:4", b"1", b"4")]
