r"""SUBMIT_JOB_EPOCH: 3 NUL args then data.

Bytes: b'\x00REQ\x00\x00\x00$\x00\x00\x00\x14fn\x00u\x001700000000\x00data'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB_EPOCH, b"fn", b"u", b"1700000000", b"data")]
