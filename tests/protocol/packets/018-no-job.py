r"""NO_JOB (response type).

Bytes: b'\x00REQ\x00\x00\x00\n\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.NO_JOB)]
