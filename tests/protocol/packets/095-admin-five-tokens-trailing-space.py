r"""'a b c d e \r\n' is six tokens for gearmand (verified: connection closed).

Bytes: b'a b c d e \r\nversion\r\n'
"""

from tests.protocol.corpus import CLOSE


EVENTS = [CLOSE]
