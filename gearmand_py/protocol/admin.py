"""Reply formats of gearmand's text admin protocol, byte for byte.

gearmand's line endings are inconsistent and clients match on them: lists and ``OK <value>`` end
with ``\\n``, a bare ``OK`` and every ``ERR`` end with ``\\r\\n``.
"""

from __future__ import annotations

from collections.abc import Iterable

OK = b"OK\r\n"
LIST_END = b".\n"


def ok_value(value: bytes) -> bytes:
    """``OK <value>\\n``, as ``version``, ``getpid`` and ``verbose`` answer."""
    return b"OK " + value + b"\n"


def err(text: bytes) -> bytes:
    """``ERR <text>\\r\\n``."""
    return b"ERR " + text + b"\r\n"


def err_unknown_command(word: bytes) -> bytes:
    """gearmand's reply to a command it does not know: the word follows with no space."""
    return err(b"UNKNOWN_COMMAND Unknown+server+command" + word)


def err_invalid_arguments(command: bytes) -> bytes:
    """gearmand's reply to a known command with too few arguments."""
    return err(b"INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+"
               + command)


def listing(lines: Iterable[bytes]) -> bytes:
    """A list reply: each line ended by ``\\n``, then ``.\\n``."""
    return b"".join(line + b"\n" for line in lines) + LIST_END


def tab_row(*fields: bytes) -> bytes:
    """One tab-separated row of ``status``, ``prioritystatus`` or ``show jobs``."""
    return b"\t".join(fields)
