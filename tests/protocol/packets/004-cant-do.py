r"""CANT_DO: the whole body, NULs included.

Bytes: b'\x00REQ\x00\x00\x00\x02\x00\x00\x00\x04fn\x00x'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.CANT_DO, b"fn\0x")]
