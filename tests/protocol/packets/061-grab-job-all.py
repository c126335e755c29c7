r"""GRAB_JOB_ALL.

Bytes: b"\x00REQ\x00\x00\x00'\x00\x00\x00\x00"
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.GRAB_JOB_ALL)]
