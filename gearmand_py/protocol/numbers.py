"""Numbers in wire fields and admin tokens, read the way gearmand's C library reads them.

gearmand parses every number a client sends with ``strtoll``, ``strtol`` or ``atoi``: optional
white space, an optional sign, decimal digits, and whatever follows is ignored (no digits: 0).
Out of range, ``strtol``/``strtoll`` return the nearest 64-bit bound and report ERANGE; ``atoi``
keeps the low 32 bits of that as a C ``int``. Python's ``int()`` would build a number as large as
the field (or refuse one of more than 4,300 digits with ValueError), so a field never goes through
``int()`` whole: only the at most 19 significant digits a 64-bit integer can hold do.
"""

from __future__ import annotations

import re
from typing import NamedTuple

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

#: C's isspace() set, a sign, leading zeros (so they do not count as significant), the digits.
_NUMBER = re.compile(rb"[ \t\n\v\f\r]*([+-]?)0*([0-9]*)")
_INT64_DIGITS = len(str(INT64_MAX))


class Parsed(NamedTuple):
    """What ``strtoll`` returns and whether it set ERANGE."""

    value: int
    out_of_range: bool


def strtoll(field: bytes) -> Parsed:
    """C's ``strtoll(field, NULL, 10)``: the value, saturated at the 64-bit bounds."""
    match = _NUMBER.match(field)
    assert match is not None  # every part of the pattern may be empty
    negative = match.group(1) == b"-"
    start, end = match.span(2)
    if end - start > _INT64_DIGITS:
        magnitude = 1 << 64  # more digits than any 64-bit value has: beyond both bounds
    else:
        magnitude = int(field[start:end] or b"0")
    if negative:
        if magnitude > -INT64_MIN:
            return Parsed(INT64_MIN, True)
        return Parsed(-magnitude, False)
    if magnitude > INT64_MAX:
        return Parsed(INT64_MAX, True)
    return Parsed(magnitude, False)


def atoi(field: bytes) -> int:
    """glibc's ``atoi``: ``(int) strtol(field)``, the low 32 bits of the saturated value as a
    signed C ``int``."""
    low = strtoll(field).value & 0xFFFFFFFF
    return low - (1 << 32) if low & 0x80000000 else low


def atou32(field: bytes) -> int:
    """``(uint32_t) atoi(field)``, as gearmand stores a WORK_STATUS numerator and denominator."""
    return strtoll(field).value & 0xFFFFFFFF
