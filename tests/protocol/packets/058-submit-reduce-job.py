r"""SUBMIT_REDUCE_JOB: 4 NUL args (libgearman sends an empty 4th) then data.

Bytes: b'\x00REQ\x00\x00\x00%\x00\x00\x00\x16red\x00ru\x00myreducer\x00\x00data'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_REDUCE_JOB, b"red", b"ru", b"myreducer", b"", b"data")]
