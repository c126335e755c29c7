r"""SUBMIT_JOB_SCHED: 7 NUL args then data (the core answers INVALID_COMMAND).

Bytes: b'\x00REQ\x00\x00\x00#\x00\x00\x00\x13fn\x00u\x001\x002\x003\x004\x005\x00data'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB_SCHED, b"fn", b"u", b"1", b"2", b"3", b"4", b"5", b"data")]
