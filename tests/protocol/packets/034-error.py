r"""ERROR: CODE\0 TEXT (response type).

Bytes: b'\x00REQ\x00\x00\x00\x13\x00\x00\x005UNKNOWN_OPTION\x00Server does not recognize given option'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.ERROR, b"UNKNOWN_OPTION", b"Server does not recognize given option")]
