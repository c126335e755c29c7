r"""Admin line ending \r\n.

Bytes: b'status\r\n'
"""

from tests.protocol.corpus import A

EVENTS = [A(b"status")]
