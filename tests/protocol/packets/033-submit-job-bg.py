r"""SUBMIT_JOB_BG.

Bytes: b'\x00REQ\x00\x00\x00\x12\x00\x00\x00\x0efn1\x00u1\x00payload'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB_BG, b"fn1", b"u1", b"payload")]
