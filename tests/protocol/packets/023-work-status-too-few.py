r"""WORK_STATUS with one NUL (Perl's Gearman::Worker drops the denominator): passed on short.

Bytes: b'\x00REQ\x00\x00\x00\x0c\x00\x00\x00\x08H:vm:4\x001\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import P, T

EVENTS = [
    P(T.WORK_STATUS, b"H:vm:4", b"1"),
    P(T.ECHO_REQ, b"next"),
]
