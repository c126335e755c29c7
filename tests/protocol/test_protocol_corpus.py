"""Replay every corpus file (tests/protocol/packets) at every chunking, gunicorn-style.

Each ``NNN-name.bin`` is fed to a fresh ``Decoder`` all at once, one byte at a time, as two pieces
at every split point, and in seeded random chunkings; the concatenated events must equal the
``EVENTS`` of ``NNN-name.py`` every time, and ``decoder.buffered`` must equal ``BUFFERED``.
"""

from __future__ import annotations

import random
import zlib

import pytest

from gearmand_py.protocol.events import Fatal
from tests.protocol.corpus import PACKETS_DIR, Case, decode_chunks, load_corpus, norm

CASES = load_corpus()
RANDOM_CHUNKINGS = 25


def _param(case: Case, *rest):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, *rest, id=case.name, marks=marks)


def _check(case: Case, chunks, how: str) -> None:
    events, decoder = decode_chunks(chunks, case.max_packet_size)
    assert norm(events) == norm(case.events), f"{case.name} fed {how}"
    assert decoder.buffered == case.buffered, f"{case.name} fed {how}: buffered"
    if any(isinstance(e, Fatal) for e in case.events):
        assert decoder.feed(case.data) == [], "a dead decoder must stay silent"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_all_at_once(case: Case) -> None:
    _check(case, [case.data], "all at once")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_one_byte_at_a_time(case: Case) -> None:
    data = case.data
    _check(case, [data[i:i + 1] for i in range(len(data))], "one byte at a time")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_every_two_piece_split(case: Case) -> None:
    data = case.data
    for i in range(len(data) + 1):
        _check(case, [data[:i], data[i:]], f"split at {i}")


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_random_chunkings(case: Case) -> None:
    data = case.data
    rng = random.Random(zlib.crc32(case.name.encode()))
    for attempt in range(RANDOM_CHUNKINGS):
        chunks, i = [], 0
        while i < len(data):
            n = rng.choice((0, 1, 2, 3, 5, 11, 12, 13, 64, rng.randint(1, max(1, len(data)))))
            chunks.append(data[i:i + n])
            i += n
        _check(case, chunks, f"random chunking #{attempt}: {[len(c) for c in chunks]}")


def test_corpus_files_are_paired() -> None:
    bins = {p.stem for p in PACKETS_DIR.glob("*.bin")}
    pys = {p.stem for p in PACKETS_DIR.glob("*.py")}
    assert bins == pys
    assert len({stem.split("-", 1)[0] for stem in bins}) == len(bins), "duplicate NNN prefix"


def test_corpus_covers_every_packet_type() -> None:
    seen = {e[0] for c in CASES for e in c.events if type(e) is tuple}
    assert set(range(1, 43)) <= seen
