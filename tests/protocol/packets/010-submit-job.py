r"""SUBMIT_JOB: FUNC\0 UNIQ\0 DATA.

Bytes: b'\x00REQ\x00\x00\x00\x07\x00\x00\x00\x0efn1\x00u1\x00payload'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB, b"fn1", b"u1", b"payload")]
