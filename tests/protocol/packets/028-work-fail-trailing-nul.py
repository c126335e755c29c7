r"""WORK_FAIL "H:vm:7\0": the handle is the whole rest, NUL included (forwarded verbatim).

Bytes: b'\x00REQ\x00\x00\x00\x0e\x00\x00\x00\x07H:vm:7\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_FAIL, b"H:vm:7\0")]
