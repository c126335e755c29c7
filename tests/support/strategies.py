"""Hypothesis strategies for Gearman input, drawn from the tables in tests/support/fuzzing.py."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from tests.support.fuzzing import (
    ADMIN_KEYWORDS,
    ADMIN_WORDS,
    EDGE_NUMBERS,
    FUNCTIONS,
    HUGE_NUMBERS,
    OPTIONS,
    PACKET_TYPES,
    UNIQUES,
    packet,
    roles,
)

#: The fake clock's start in the engine tests; epochs are drawn around it so they come due.
CLOCK_START = 1_700_000_000.0

_SIGNS = st.sampled_from((b"", b" ", b"\t", b"+", b"-", b" -", b"\n+", b"00"))


#: A numeric field as a client could write it.
NUMBERS = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers(-2 ** 65, 2 ** 65).map(lambda n: b"%d" % n),
    st.tuples(_SIGNS, st.integers(0, 10 ** 30)).map(lambda t: t[0] + b"%d" % t[1]),
    st.integers(1, 300).map(lambda n: b"9" * n),
    st.sampled_from(HUGE_NUMBERS),
)


#: Epochs: mostly times around the fake clock (past, now, soon), else any number.
EPOCHS = st.one_of(
    st.integers(int(CLOCK_START) - 10, int(CLOCK_START) + 7200).map(lambda n: b"%d" % n), NUMBERS)
#: CAN_DO_TIMEOUT values: around gearmand's one-second floor, else any number.
MILLISECONDS = st.one_of(st.sampled_from((b"1", b"999", b"1000", b"1500", b"60000", b"-5")),
                         NUMBERS)


DATA = st.one_of(st.binary(max_size=48), st.sampled_from((b"", b"\0", b"\0\0x")),
                 st.sampled_from((65536, 300_000)).map(lambda n: b"d" * n))


def listed(name: bytes) -> bool:
    """Whether a name, starting a line of an admin listing (``status``, ``show unique jobs``),
    leaves the listing readable: a line starting with NUL looks like a packet, one starting
    ``OK`` or ``ERR`` like a one-line reply (so it would to any admin client)."""
    return not name.startswith((b"\0", b"OK", b"ERR"))


def field(role: str, handles: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """One field for its role (see fuzzing.FIELD_ROLES); ``handles`` are live job handles."""
    if role == "function":
        return st.one_of(st.sampled_from(FUNCTIONS), st.binary(max_size=4).map(
            lambda b: b.lstrip(b"\0")).filter(listed))
    if role == "unique":
        return st.one_of(st.sampled_from(UNIQUES), st.binary(max_size=4).filter(listed))
    if role == "handle":
        known = [st.sampled_from(list(handles))] if handles else []
        return st.one_of(*known, st.sampled_from((b"", b"H:test:0", b"H:test:999999")),
                         st.binary(max_size=12))
    if role == "number":
        return NUMBERS
    if role == "epoch":
        return EPOCHS
    if role == "milliseconds":
        return MILLISECONDS
    if role == "option":
        return st.sampled_from(OPTIONS)
    if role == "data":
        return DATA
    return st.binary(max_size=16)


def fields(ptype: int, handles: Sequence[bytes], exact: bool = False) -> st.SearchStrategy[list[bytes]]:
    """The fields of a ``ptype`` packet; unless ``exact``, sometimes one too many or too few."""
    right = st.tuples(*(field(role, handles) for role in roles(ptype))).map(list)
    if exact:
        return right
    return st.one_of(right, right.map(lambda f: f[:-1]),
                     right.map(lambda f: f + [b"extra"]))


def packets(handles: Sequence[bytes] = (),
            ptypes: st.SearchStrategy[int] = st.sampled_from(PACKET_TYPES)
            ) -> st.SearchStrategy[bytes]:
    """A request packet of any type (responses too) with generated fields."""
    return ptypes.flatmap(lambda t: fields(t, handles).map(lambda f: packet(t, f)))


def admin_lines(handles: Sequence[bytes] = (),
                words: Sequence[bytes] = ADMIN_WORDS) -> st.SearchStrategy[bytes]:
    """A command word (random case) and up to six tokens, without the line ending."""
    token = st.one_of(
        st.sampled_from(ADMIN_KEYWORDS), st.sampled_from(FUNCTIONS[:3]),
        NUMBERS.map(lambda n: n.replace(b" ", b"").replace(b"\n", b"")),
        *([st.sampled_from(list(handles))] if handles else []),
        # ``create function`` makes a token a listing line's start (``listed``).
        st.binary(max_size=6).map(lambda b: b.translate(None, b"\n\r").lstrip(b"\0"))
        .filter(listed))
    word = st.sampled_from(list(words)).flatmap(
        lambda w: st.sampled_from((w, w.upper())))
    return st.tuples(word, st.lists(token, max_size=6)).map(
        lambda t: b" ".join([t[0], *t[1]]))


def chunked(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut at random points (as ``recv`` might return it)."""
    return st.lists(st.integers(0, len(data)), max_size=8).map(
        lambda cuts: [data[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)])])
