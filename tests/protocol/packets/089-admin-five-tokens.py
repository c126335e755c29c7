r"""Five tokens are fine.

Bytes: b'a b c d e\r\n'
"""

from tests.protocol.corpus import A

EVENTS = [A(b"a", b"b", b"c", b"d", b"e")]
