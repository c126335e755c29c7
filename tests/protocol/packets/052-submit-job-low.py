r"""SUBMIT_JOB_LOW.

Bytes: b'\x00REQ\x00\x00\x00!\x00\x00\x00\x06fn\x00u\x00d'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB_LOW, b"fn", b"u", b"d")]
