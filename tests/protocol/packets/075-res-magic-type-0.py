r"""\0RES with type 0 is a close, not INVALID_MAGIC.

Bytes: b'\x00RES\x00\x00\x00\x00\x00\x00\x00\x00\x00REQ\x00\x00\x00\x10\x00\x00\x00\x04next'
"""

from tests.protocol.corpus import CLOSE

EVENTS = [CLOSE]
