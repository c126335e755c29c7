r"""Header declaring 4 GiB - 1: refused, trailing bytes ignored.

Bytes: b'\x00REQ\x00\x00\x00\x10\xff\xff\xff\xffabc'
"""

from tests.protocol.corpus import TOO_LARGE

EVENTS = [TOO_LARGE]
