r"""SUBMIT_JOB_HIGH_BG.

Bytes: b'\x00REQ\x00\x00\x00 \x00\x00\x00\x05fn\x00u\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB_HIGH_BG, b"fn", b"u", b"")]
