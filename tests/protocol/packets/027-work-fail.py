r"""WORK_FAIL: the handle is the whole body.

Bytes: b'\x00REQ\x00\x00\x00\x0e\x00\x00\x00\x06H:vm:6'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.WORK_FAIL, b"H:vm:6")]
