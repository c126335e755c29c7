r"""'a b c d e \r\n' is six tokens for gearmand (verified: connection closed).

Bytes: b'a b c d e \r\nversion\r\n'
"""

from tests.protocol.corpus import CLOSE

XFAIL = "admin_tokens drops trailing empty tokens, so this is 5 tokens instead of gearmand's 6"

EVENTS = [CLOSE]
