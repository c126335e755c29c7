r"""SUBMIT_JOB with empty unique and empty data.

Bytes: b'\x00REQ\x00\x00\x00\x07\x00\x00\x00\x05fn1\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB, b"fn1", b"", b"")]
