r"""SUBMIT_JOB data is opaque: NULs after the second one belong to the data.

Bytes: b'\x00REQ\x00\x00\x00\x07\x00\x00\x00\tfn\x00u\x00a\x00b\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.SUBMIT_JOB, b"fn", b"u", b"a\0b\0")]
