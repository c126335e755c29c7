r"""Tabs (and other whitespace) are not separators.

Bytes: b'status\tfoo bar\tbaz\x0bq\r\n'
"""

from tests.protocol.corpus import A

EVENTS = [A(b"status\tfoo", b"bar\tbaz\x0bq")]
