r"""ALL_YOURS (never implemented by gearmand) still decodes.

Bytes: b'\x00REQ\x00\x00\x00\x18\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.ALL_YOURS)]
