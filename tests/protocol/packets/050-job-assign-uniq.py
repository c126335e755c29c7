r"""JOB_ASSIGN_UNIQ: 3 NUL args then data.

Bytes: b'\x00REQ\x00\x00\x00\x1f\x00\x00\x00\x11H:vm:4\x00fn1\x00\x00hello'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.JOB_ASSIGN_UNIQ, b"H:vm:4", b"fn1", b"", b"hello")]
