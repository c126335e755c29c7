r"""SET_CLIENT_ID: the whole rest.

Bytes: b'\x00REQ\x00\x00\x00\x16\x00\x00\x00\nworker-1\x00x'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SET_CLIENT_ID, b"worker-1\0x")]
