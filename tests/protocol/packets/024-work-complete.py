r"""WORK_COMPLETE: HANDLE\0 DATA.

Bytes: b'\x00REQ\x00\x00\x00\r\x00\x00\x00\x0bH:vm:4\x00done'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_COMPLETE, b"H:vm:4", b"done")]
