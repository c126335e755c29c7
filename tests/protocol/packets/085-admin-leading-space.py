r"""Leading spaces give an empty first token.

Bytes: b'  status\r\n'
"""

from tests.protocol.corpus import A

EVENTS = [A(b"", b"status")]
