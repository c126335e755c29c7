r"""gearmand (verified) gives a trailing space an extra empty last token: 'cancel job H:vm:1 \r\n'
replies ERR UNKNOWN_ERROR (4 tokens), 'show jobs \r\n' ERR UNKNOWN_SHOW_ARGUMENTS.

Bytes: b'cancel job H:vm:1 \r\n'
"""

from tests.protocol.corpus import A


EVENTS = [A(b"cancel", b"job", b"H:vm:1", b"")]
