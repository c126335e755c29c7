r"""WORK_DATA.

Bytes: b'\x00REQ\x00\x00\x00\x1c\x00\x00\x00\x0cH:vm:4\x00part1'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_DATA, b"H:vm:4", b"part1")]
