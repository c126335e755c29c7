"""Decoder properties the corpus cannot express: size limits before buffering, bounded memory,
chunking invariance of mutated input, and the packet table against gearmand's."""

from __future__ import annotations

import random
import zlib

import pytest

from gearmand_py.protocol import codec
from gearmand_py.protocol.codec import DEFAULT_MAX_PACKET_SIZE, Decoder
from gearmand_py.protocol.packets import ARG_SPECS, REQUEST_TYPES, TYPE_LIMIT, PacketType
from tests.protocol.corpus import (
    CLOSE, GEARMAND_COMMAND_INFO, TOO_LARGE, A, P, T, decode_chunks, frame, load_corpus, norm, req,
)

# §1.2: types gearmand answers with ERROR INVALID_COMMAND when a client sends them.
NOT_REQUESTS = {5, 6, 8, 10, 11, 17, 19, 20, 24, 27, 31, 35, 40, 42}


def test_packet_table_matches_gearmand() -> None:
    assert TYPE_LIMIT == 43 == len(GEARMAND_COMMAND_INFO)
    for number, (name, argc, data) in GEARMAND_COMMAND_INFO.items():
        assert PacketType(number).name == name
        assert (ARG_SPECS[number].argc, ARG_SPECS[number].has_data) == (argc, data), name


def test_request_types_are_the_ones_gearmand_handles() -> None:
    assert set(REQUEST_TYPES) == set(range(1, 43)) - NOT_REQUESTS


# ---- size limit: refused from the header alone --------------------------------------------------

@pytest.mark.parametrize("declared", [DEFAULT_MAX_PACKET_SIZE + 1, 0xFFFFFFFF])
def test_oversized_header_refused_before_body(declared: int) -> None:
    decoder = Decoder()
    header = frame(b"\0REQ", T.SUBMIT_JOB, b"", size=declared)
    assert decoder.feed(header[:11]) == []
    assert decoder.buffered == 11
    assert norm(decoder.feed(header[11:])) == norm([TOO_LARGE])
    assert decoder.buffered == 0
    assert len(decoder._buf) == 0, "nothing of the declared body may be buffered"
    assert decoder.dead
    assert decoder.feed(req(T.ECHO_REQ, b"x")) == []


def test_header_at_the_limit_waits_for_its_body() -> None:
    decoder = Decoder(max_packet_size=1000)
    assert decoder.feed(frame(b"\0REQ", T.ECHO_REQ, b"", size=1000)) == []
    assert not decoder.dead and decoder.buffered == 12
    assert decoder.feed(b"z" * 999) == []
    assert decoder.feed(b"z") == [P(T.ECHO_REQ, b"z" * 1000)]
    assert decoder.buffered == 0


def test_default_max_packet_size_is_accepted() -> None:
    decoder = Decoder()
    assert decoder.feed(frame(b"\0REQ", T.ECHO_REQ, b"", size=DEFAULT_MAX_PACKET_SIZE)) == []
    assert not decoder.dead


# ---- chunking invariance ------------------------------------------------------------------------

def test_overlong_admin_line_is_chunking_independent() -> None:
    data = b"y" * (codec.MAX_ADMIN_LINE + 10) + b"\r\nversion\r\n"
    whole, _ = decode_chunks([data])
    cut = codec.MAX_ADMIN_LINE + 5  # the first recv ends before the newline
    pieces, _ = decode_chunks([data[:cut], data[cut:]])
    assert norm(whole) == norm(pieces)


def test_admin_line_at_the_limit_is_accepted_in_any_chunking() -> None:
    # gearmand 1.1.20 answers a line of MAX_ADMIN_LINE bytes, its "\r\n" or "\n" included.
    for ending in (b"\r\n", b"\n"):
        line = b"y" * (codec.MAX_ADMIN_LINE - len(ending))
        data = line + ending + b"version\r\n"
        expected = [A(line), A(b"version")]
        for size in (len(data), 4096, 1000):
            events, _ = decode_chunks([data[i:i + size] for i in range(0, len(data), size)])
            assert norm(events) == norm(expected), (ending, size)


def test_admin_line_one_byte_over_the_limit_closes_in_any_chunking() -> None:
    # ... and closes the connection on one byte more (8191 bytes + "\r\n", verified).
    data = b"y" * (codec.MAX_ADMIN_LINE - 1) + b"\r\nversion\r\n"
    for size in (len(data), 4096, 1000):
        events, _ = decode_chunks([data[i:i + size] for i in range(0, len(data), size)])
        assert [type(e).__name__ for e in events] == ["Fatal"], size


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        i = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(i, len(buf) - 1)] = rng.choice((0, 10, 13, 32, rng.randrange(256)))
        elif op == 1:
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op == 2:
            del buf[i:i + rng.randint(1, 4)]
        else:
            buf[i:i] = req(rng.randrange(45), b"\0" * rng.randint(0, 3))
    return bytes(buf)


SMALL_CASES = [c for c in load_corpus() if len(c.data) <= 4096]


@pytest.mark.parametrize("case", SMALL_CASES, ids=[c.name for c in SMALL_CASES])
def test_mutated_corpus_decodes_the_same_in_any_chunking(case) -> None:
    rng = random.Random(zlib.crc32(case.name.encode()) ^ 0x5EED)
    for _ in range(30):
        data = _mutate(case.data, rng)
        whole, dec = decode_chunks([data], case.max_packet_size)
        bytewise, dec1 = decode_chunks(
            [data[i:i + 1] for i in range(len(data))], case.max_packet_size)
        cut = rng.randrange(len(data) + 1)
        split, dec2 = decode_chunks([data[:cut], data[cut:]], case.max_packet_size)
        assert norm(bytewise) == norm(whole) == norm(split), data
        assert dec.buffered == dec1.buffered == dec2.buffered
        fatal = [i for i, e in enumerate(whole) if type(e).__name__ == "Fatal"]
        assert fatal in ([], [len(whole) - 1]), "a Fatal is the last event"


# ---- memory -------------------------------------------------------------------------------------

def test_buffer_stays_small_over_a_million_packets() -> None:
    # 32 bytes: the odd-sized chunks end at every offset, mostly inside a body.
    packet = req(T.ECHO_REQ, b"x" * 20)
    count = 1_000_000
    stream = packet * count
    chunk = 65536 + 7
    decoder = Decoder()
    seen = 0
    largest = 0
    for i in range(0, len(stream), chunk):
        events = decoder.feed(stream[i:i + chunk])
        seen += len(events)
        largest = max(largest, len(decoder._buf))
        # Consumed bytes kept in front of the pending ones never exceed max(64 KiB, pending).
        assert len(decoder._buf) - decoder.buffered <= max(65536, decoder.buffered)
    assert events[-1] == P(T.ECHO_REQ, b"x" * 20)
    assert seen == count
    assert decoder.buffered == 0
    assert len(decoder._buf) == 0
    assert largest <= 2 * chunk


def test_consumed_prefix_is_dropped_while_a_large_packet_trickles_in() -> None:
    decoder = Decoder()
    small = req(T.GRAB_JOB) * 20_000  # 240 kB of complete packets
    big = req(T.ECHO_REQ, b"b" * 300_000)
    stream = small + big
    for i in range(0, len(stream), 1000):
        decoder.feed(stream[i:i + 1000])
        assert len(decoder._buf) - decoder.buffered <= max(65536, decoder.buffered)
    assert decoder.buffered == 0 and len(decoder._buf) == 0


def test_feeding_empty_bytes_is_harmless() -> None:
    decoder = Decoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(req(T.GRAB_JOB)[:5]) == []
    assert decoder.feed(b"") == []
    assert decoder.feed(req(T.GRAB_JOB)[5:]) == [P(T.GRAB_JOB)]
    assert decoder.feed(b"") == []


def test_fatal_discards_everything_after_it_in_the_same_feed() -> None:
    decoder = Decoder()
    data = req(T.GRAB_JOB) + b"a b c d e f\n" + req(T.GRAB_JOB) + b"version\n"
    assert norm(decoder.feed(data)) == norm([P(T.GRAB_JOB), CLOSE])
    assert decoder.dead and decoder.buffered == 0
    assert decoder.feed(b"version\n") == []


# ---- large fields are not copied ----------------------------------------------------------------

def test_a_large_data_field_is_a_view_of_the_buffer_it_was_received_into() -> None:
    data = bytes(range(256)) * (2 * codec.LARGE // 256)
    stream = req(T.SUBMIT_JOB, b"f\0u\0" + data) + req(T.ECHO_REQ, b"next")
    events, decoder = decode_chunks(stream[i:i + 65536] for i in range(0, len(stream), 65536))
    (ptype, (function, unique, field)), echo = events
    assert (ptype, function, unique, echo) == (T.SUBMIT_JOB, b"f", b"u", P(T.ECHO_REQ, b"next"))
    assert isinstance(field, memoryview) and field.readonly and field == data
    # The decoder has let go of that buffer: what it reads next leaves the field alone.
    decoder.feed(req(T.ECHO_REQ, b"z" * 100_000)[:50_000])
    assert field == data


def test_large_packets_split_as_small_ones() -> None:
    data = b"\0" * codec.LARGE
    big = [req(T.WORK_COMPLETE, b"H:1\0" + data), req(T.SUBMIT_JOB, b"no-nul-at-all" * 100_000),
           req(T.CAN_DO, b"f" * codec.LARGE)]
    stream = b"".join(big)
    chunked, _ = decode_chunks(stream[i:i + 65536] for i in range(0, len(stream), 65536))
    whole, _ = decode_chunks([stream])  # nothing buffered: plain bytes, as before
    assert norm(chunked) == norm(whole)
    assert chunked[1] == codec.TOO_FEW_ARGS
    assert isinstance(chunked[2][1][0], bytes)  # only opaque data stays a view
