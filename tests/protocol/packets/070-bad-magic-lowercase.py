r"""\0req (lower case) is bad magic.

Bytes: b'\x00req\x00\x00\x00\x10\x00\x00\x00\x02hi\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import CLOSE

EVENTS = [CLOSE]
