r"""Text admin lines and binary packets interleaved on one stream.

Bytes: b'version\r\n\x00REQ\x00\x00\x00\x10\x00\x00\x00\x0bhello\x00worldstatus\n\x00REQ\x00\x00\x00\x07\x00\x00\x00\x05fn\x00\x00x\n\x00REQ\x00\x00\x00\t\x00\x00\x00\x00workers\r\n'
"""

from tests.protocol.corpus import A, P, T

EVENTS = [
    A(b"version"),
    P(T.ECHO_REQ, b"hello\0world"),
    A(b"status"),
    P(T.SUBMIT_JOB, b"fn", b"", b"x"),
    A(b""),
    P(T.GRAB_JOB),
    A(b"workers"),
]
