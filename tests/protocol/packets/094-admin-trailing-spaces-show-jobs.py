r"""A run of trailing spaces gives one empty last token in gearmand (verified: ERR
UNKNOWN_SHOW_ARGUMENTS).

Bytes: b'show jobs  \n'
"""

from tests.protocol.corpus import A


EVENTS = [A(b"show", b"jobs", b"")]
