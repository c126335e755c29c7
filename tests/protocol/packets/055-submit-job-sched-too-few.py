r"""SUBMIT_JOB_SCHED with 6 NULs.

Bytes: b'\x00REQ\x00\x00\x00#\x00\x00\x00\x0efn\x00u\x001\x002\x003\x004\x005\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T, TOO_FEW

EVENTS = [
    TOO_FEW,
    P(T.ECHO_REQ, b"next"),
]
