r"""Empty lines: one empty token each.

Bytes: b'\r\n\n'
"""

from tests.protocol.corpus import A

EVENTS = [
    A(b""),
    A(b""),
]
