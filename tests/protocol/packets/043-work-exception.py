r"""WORK_EXCEPTION: HANDLE\0 DATA.

Bytes: b'\x00REQ\x00\x00\x00\x19\x00\x00\x00\x0bH:vm:5\x00boom'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_EXCEPTION, b"H:vm:5", b"boom")]
