r"""WORK_STATUS: the last field is the rest of the packet, NULs included.

Bytes: b'\x00REQ\x00\x00\x00\x0c\x00\x00\x00\x07H\x001\x004\x00x'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_STATUS, b"H", b"1", b"4\0x")]
