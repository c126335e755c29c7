r"""SUBMIT_REDUCE_JOB_BACKGROUND with empty data.

Bytes: b'\x00REQ\x00\x00\x00&\x00\x00\x00\x12red\x00ru\x00myreducer\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_REDUCE_JOB_BACKGROUND, b"red", b"ru", b"myreducer", b"", b"")]
