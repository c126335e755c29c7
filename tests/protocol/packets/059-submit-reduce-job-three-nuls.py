r"""SUBMIT_REDUCE_JOB with only 3 NULs (gearmand underflows data_size); rejected, stream in sync.

Bytes: b'\x00REQ\x00\x00\x00%\x00\x00\x00\x15red\x00ru\x00myreducer\x00data\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
