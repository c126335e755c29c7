r"""Runs of spaces are one separator.

Bytes: b'cancel   job    H:vm:1\r\n'
"""

from tests.protocol.corpus import A

EVENTS = [A(b"cancel", b"job", b"H:vm:1")]
