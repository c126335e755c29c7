r"""JOB_ASSIGN_ALL: 4 NUL args then data.

Bytes: b'\x00REQ\x00\x00\x00(\x00\x00\x00\x1dH:vm:28\x00red\x00ru\x00myreducer\x00data'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.JOB_ASSIGN_ALL, b"H:vm:28", b"red", b"ru", b"myreducer", b"data")]
