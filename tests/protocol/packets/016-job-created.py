r"""JOB_CREATED (response type) as a request.

Bytes: b'\x00REQ\x00\x00\x00\x08\x00\x00\x00\x06H:vm:1'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.JOB_CREATED, b"H:vm:1")]
