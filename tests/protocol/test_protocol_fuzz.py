"""Property tests for the Decoder: any byte stream, cut anywhere, decodes without an exception into
events a consumer can trust, the same events however ``recv`` cut it.

The streams mix valid packets of every type (generated fields, extreme numbers, huge and empty
fields), broken packets (flipped bytes, wrong sizes, wrong counts), admin lines and garbage.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gearmand_py.protocol.codec import MAX_ADMIN_LINE, MAX_ADMIN_TOKENS, Decoder
from gearmand_py.protocol.events import AdminCommand, Fatal, Rejected
from gearmand_py.protocol.packets import ARG_SPECS, HEADER_SIZE, PacketType
from tests.support.fuzzing import PACKET_TYPES, packet
from tests.support.strategies import admin_lines, chunked, fields, packets

#: Streams small enough for many examples, big enough for several units per stream.
MAX_PACKET = 4096


def _mutate(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, bit in flips:
        if out:
            out[position % len(out)] ^= 1 << bit
    return bytes(out)


_UNIT = st.one_of(
    packets(),
    st.tuples(packets(), st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 7)),
                                           min_size=1, max_size=3)).map(lambda t: _mutate(*t)),
    packets().flatmap(lambda p: st.integers(0, len(p)).map(lambda n: p[:n])),
    st.tuples(st.sampled_from(PACKET_TYPES), st.integers(0, 2 ** 32 - 1), st.binary(max_size=24))
    .map(lambda t: struct.pack(">4sII", b"\0REQ", t[0], t[1]) + t[2]),
    admin_lines().map(lambda line: line + b"\r\n"),
    st.binary(max_size=64),
)
STREAMS = st.lists(_UNIT, max_size=12).map(b"".join)


def decode(chunks: list[bytes], max_packet_size: int = MAX_PACKET) -> tuple[list, Decoder]:
    decoder = Decoder(max_packet_size)
    events = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
        # Nothing is buffered beyond one packet's worth or one admin line.
        assert decoder.buffered <= max(max_packet_size + HEADER_SIZE, MAX_ADMIN_LINE)
    return events, decoder


def check_event(event: object) -> None:
    """An event is one of the four kinds, shaped as the engine indexes it."""
    if event.__class__ is tuple:
        ptype, args = event  # type: ignore[misc]
        assert 0 < ptype < 43
        assert all(isinstance(a, bytes) for a in args)
        expected = ARG_SPECS[ptype].fields
        assert len(args) == expected or (ptype == PacketType.WORK_STATUS and len(args) == 2)
    elif isinstance(event, AdminCommand):
        assert 1 <= len(event.tokens) <= MAX_ADMIN_TOKENS
        assert all(b"\n" not in t for t in event.tokens)
    else:
        assert isinstance(event, (Rejected, Fatal)), event


@given(STREAMS.flatmap(lambda s: st.tuples(st.just(s), chunked(s))))
@settings(max_examples=400)
def test_any_stream_cut_anywhere_decodes_to_the_same_well_formed_events(stream_chunks) -> None:
    stream, chunks = stream_chunks
    whole, _ = decode([stream])
    pieces, decoder = decode(chunks)
    assert pieces == whole
    for event in whole:
        check_event(event)
    # After a Fatal the stream is not trusted: it is the last event, and the decoder stays dead.
    fatal = [i for i, e in enumerate(whole) if isinstance(e, Fatal)]
    assert fatal in ([], [len(whole) - 1])
    if fatal:
        assert decoder.feed(b"version\r\n") == []


@pytest.mark.parametrize("ptype", PACKET_TYPES, ids=lambda t: PacketType(t).name)
@given(data=st.data())
@settings(max_examples=15)
def test_every_type_with_generated_fields_decodes_to_those_fields(ptype: int, data) -> None:
    """A packet whose fields have no NUL except in the last decodes to exactly them, also when
    it arrives byte by byte after another packet."""
    args = data.draw(fields(ptype, (), exact=True))
    args = [a.replace(b"\0", b"") for a in args[:-1]] + args[-1:]
    wire = packet(ptype, args)
    cut = data.draw(st.integers(0, len(wire)))
    events, _ = decode([wire[:cut], wire[cut:]], max_packet_size=1 << 20)
    expected = tuple(args) if args else ()
    assert events == [(ptype, expected)]


@given(st.sampled_from(PACKET_TYPES), st.integers(MAX_PACKET + 1, 2 ** 32 - 1))
@settings(max_examples=50)
def test_a_huge_declared_size_is_refused_before_the_body_arrives(ptype: int, size: int) -> None:
    decoder = Decoder(MAX_PACKET)
    events = decoder.feed(struct.pack(">4sII", b"\0REQ", ptype, size))
    assert events[-1].__class__ is Fatal and events[-1].code == b"ARGUMENT_TOO_LARGE"
    assert decoder.buffered == 0


@given(admin_lines(), st.sampled_from((b"\n", b"\r\n")))
@settings(max_examples=200)
def test_an_admin_line_is_one_command_or_closes_the_connection(line: bytes, ending: bytes) -> None:
    events, _ = decode([line + ending])
    assert len(events) == 1
    check_event(events[0])
    if isinstance(events[0], AdminCommand):
        assert b"".join(events[0].tokens) == line.replace(b" ", b"")
