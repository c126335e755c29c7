r"""GRAB_JOB_UNIQ.

Bytes: b'\x00REQ\x00\x00\x00\x1e\x00\x00\x00\x00'
"""

from tests.protocol.corpus import P, T

EVENTS = [P(T.GRAB_JOB_UNIQ)]
