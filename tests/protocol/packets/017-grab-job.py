r"""GRAB_JOB.

Bytes: b'\x00REQ\x00\x00\x00\t\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.GRAB_JOB)]
