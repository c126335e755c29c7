r"""An admin line then an unterminated one.

Bytes: b'status\r\nworke'
"""

from tests.protocol.corpus import A

BUFFERED = 5

EVENTS = [A(b"status")]
