r"""Type 5 (UNUSED) still decodes; the core answers INVALID_COMMAND.

Bytes: b'\x00REQ\x00\x00\x00\x05\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.UNUSED)]
