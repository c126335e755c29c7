r"""JOB_ASSIGN: HANDLE\0 FUNC\0 DATA.

Bytes: b'\x00REQ\x00\x00\x00\x0b\x00\x00\x00\x13H:vm:1\x00fn\x00data\x00more'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.JOB_ASSIGN, b"H:vm:1", b"fn", b"data\0more")]
