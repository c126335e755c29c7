"""Numbers in wire fields are read exactly as glibc's strtoll and atoi read them (the C library
itself is the oracle, through ctypes), and never cost more than the field's length."""

from __future__ import annotations

import ctypes
import ctypes.util

from hypothesis import example, given
from hypothesis import strategies as st

from gearmand_py.protocol.numbers import INT64_MAX, INT64_MIN, atoi, atou32, strtoll

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.strtoll.restype = ctypes.c_longlong
libc.strtoll.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
libc.atoi.restype = ctypes.c_int
libc.atoi.argtypes = [ctypes.c_char_p]
ERANGE = 34

# Fields as clients write numbers, and as attackers do: signs, blanks, junk after the digits,
# and digit runs far past 64 bits (Python's int() refuses more than 4,300 digits).
numbers = st.builds(
    lambda blank, sign, zeros, digits, tail: blank + sign + zeros + digits + tail,
    st.sampled_from([b"", b" ", b"\t\n\v\f\r ", b"  "]),
    st.sampled_from([b"", b"-", b"+", b"--", b"+-"]),
    st.sampled_from([b"", b"0", b"000000000000000000000000"]),
    st.one_of(st.integers(0, 2**70).map(lambda n: b"%d" % n),
              st.integers(1, 6000).map(lambda n: b"9" * n), st.just(b"")),
    st.sampled_from([b"", b"x", b" 12", b"\x00", b"e5", b".5"]),
)


def c_strtoll(field: bytes) -> tuple[int, bool]:
    text = field.split(b"\0", 1)[0]  # what C sees of a field with a NUL in it
    ctypes.set_errno(0)
    value = libc.strtoll(text, None, 10)
    return value, ctypes.get_errno() == ERANGE


@given(numbers)
@example(b"9223372036854775807")
@example(b"9223372036854775808")
@example(b"-9223372036854775808")
@example(b"-9223372036854775809")
@example(b"1" + b"0" * 400)
def test_strtoll_matches_the_c_library(field: bytes) -> None:
    assert tuple(strtoll(field.split(b"\0", 1)[0])) == c_strtoll(field)


@given(numbers)
@example(b"2147483648")
@example(b"4294967297")
@example(b"-1")
@example(b"9" * 5000)
def test_atoi_matches_the_c_library(field: bytes) -> None:
    text = field.split(b"\0", 1)[0]
    assert atoi(text) == libc.atoi(text)
    assert atou32(text) == libc.atoi(text) & 0xFFFFFFFF


def test_bounds() -> None:
    assert strtoll(b"9" * 5000) == (INT64_MAX, True)
    assert strtoll(b"-" + b"9" * 5000) == (INT64_MIN, True)
    assert strtoll(b"junk") == (0, False)
    assert strtoll(b"") == (0, False)
