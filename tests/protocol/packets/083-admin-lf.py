r"""Admin line ending \n only; case is kept (the core matches case-insensitively).

Bytes: b'STATUS\n'
"""

from tests.protocol.corpus import A

EVENTS = [A(b"STATUS")]
