r"""SUBMIT_JOB_LOW_BG.

Bytes: b'\x00REQ\x00\x00\x00"\x00\x00\x00\x06fn\x00u\x00d'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB_LOW_BG, b"fn", b"u", b"d")]
