r"""Only one \r right before \n is stripped; others stay.

Bytes: b'x\r\r\nver\rsion\n'
"""

from tests.protocol.corpus import A

EVENTS = [
    A(b"x\r"),
    A(b"ver\rsion"),
]
