r"""SUBMIT_JOB_HIGH.

Bytes: b'\x00REQ\x00\x00\x00\x15\x00\x00\x00\x05fn\x00\x00d'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB_HIGH, b"fn", b"", b"d")]
