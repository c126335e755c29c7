r"""Several commands pipelined.

Bytes: b'version\r\nstatus\nworkers\r\nmaxqueue fn 1 2 3\r\n'
"""

from tests.protocol.corpus import A

EVENTS = [
    A(b"version"),
    A(b"status"),
    A(b"workers"),
    A(b"maxqueue", b"fn", b"1", b"2", b"3"),
]
