r"""A run of trailing spaces gives one empty last token in gearmand (verified: ERR
UNKNOWN_SHOW_ARGUMENTS).

Bytes: b'show jobs  \n'
"""

from tests.protocol.corpus import A

XFAIL = 'admin_tokens drops trailing empty tokens; gearmand keeps one empty last token after trailing spaces'

EVENTS = [A(b"show", b"jobs", b"")]
