r"""NOOP (a response type) sent as a request decodes; the core rejects it.

Bytes: b'\x00REQ\x00\x00\x00\x06\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.NOOP)]
