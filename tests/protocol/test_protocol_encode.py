"""``encode``/``encode_request`` against gearmand 1.1.20's bytes (reference §1.3–1.4), and a
decode(encode_request(...)) round trip for every packet type with random argument bytes."""

from __future__ import annotations

import random

import pytest

from gearmand_py.protocol import errors
from gearmand_py.protocol import codec
from gearmand_py.protocol.codec import Decoder, encode, encode_request
from tests.protocol.corpus import GEARMAND_COMMAND_INFO, RES_MAGIC, P, T, norm


def res(ptype: int, payload: bytes) -> bytes:
    return b"\0RES" + int(ptype).to_bytes(4, "big") + len(payload).to_bytes(4, "big") + payload


def test_literal_header_bytes() -> None:
    assert encode(T.JOB_CREATED, b"H:vm:1") == b"\x00RES\x00\x00\x00\x08\x00\x00\x00\x06H:vm:1"
    assert encode(T.NOOP) == b"\x00RES\x00\x00\x00\x06\x00\x00\x00\x00"
    assert encode(T.NO_JOB) == b"\x00RES\x00\x00\x00\x0a\x00\x00\x00\x00"
    assert encode_request(T.GRAB_JOB) == b"\x00REQ\x00\x00\x00\x09\x00\x00\x00\x00"
    assert encode_request(T.CAN_DO, b"fn") == b"\x00REQ\x00\x00\x00\x01\x00\x00\x00\x02fn"


# (what gearmand sent, packet type, fields given to encode, payload verified on the wire)
TRANSCRIPTS = [
    ("ECHO_RES", T.ECHO_RES, (b"hello\x00world",), b"hello\x00world"),
    ("ECHO_RES empty", T.ECHO_RES, (b"",), b""),
    ("JOB_CREATED", T.JOB_CREATED, (b"H:vm:1",), b"H:vm:1"),
    ("STATUS_RES unknown", T.STATUS_RES, (b"H:nosuch:1", b"0", b"0", b"0", b"0"),
     b"H:nosuch:1\x000\x000\x000\x000"),
    ("STATUS_RES running", T.STATUS_RES, (b"H:vm:4", b"1", b"1", b"1", b"4"),
     b"H:vm:4\x001\x001\x001\x004"),
    ("STATUS_RES_UNIQUE known", T.STATUS_RES_UNIQUE, (b"u1", b"1", b"0", b"0", b"0", b"0"),
     b"u1\x001\x000\x000\x000\x000"),
    ("STATUS_RES_UNIQUE unknown", T.STATUS_RES_UNIQUE, (b"nou", b"0", b"0", b"0", b"0", b"0"),
     b"nou\x000\x000\x000\x000\x000"),
    ("OPTION_RES", T.OPTION_RES, (b"exceptions",), b"exceptions"),
    ("ERROR UNKNOWN_OPTION", T.ERROR, errors.UNKNOWN_OPTION,
     b"UNKNOWN_OPTION\x00Server does not recognize given option"),
    ("ERROR INVALID_COMMAND", T.ERROR, errors.INVALID_COMMAND,
     b"INVALID_COMMAND\x00Command not expected"),
    ("ERROR INVALID_MAGIC", T.ERROR, (RES_MAGIC.code, RES_MAGIC.text),
     b"INVALID_MAGIC\x00Request magic expected"),
    ("ERROR JOB_NOT_FOUND result", T.ERROR, errors.JOB_NOT_FOUND_RESULT,
     b"JOB_NOT_FOUND\x00Job given in work result not found"),
    ("NOOP", T.NOOP, (), b""),
    ("NO_JOB", T.NO_JOB, (), b""),
    ("JOB_ASSIGN", T.JOB_ASSIGN, (b"H:vm:31", b"red2", b"data"), b"H:vm:31\x00red2\x00data"),
    ("JOB_ASSIGN_UNIQ", T.JOB_ASSIGN_UNIQ, (b"H:vm:4", b"fn1", b"", b"hello"),
     b"H:vm:4\x00fn1\x00\x00hello"),
    ("JOB_ASSIGN_UNIQ plain", T.JOB_ASSIGN_UNIQ, (b"H:vm:30", b"red", b"ru3", b"plain"),
     b"H:vm:30\x00red\x00ru3\x00plain"),
    ("JOB_ASSIGN_ALL", T.JOB_ASSIGN_ALL, (b"H:vm:28", b"red", b"ru", b"myreducer", b"data"),
     b"H:vm:28\x00red\x00ru\x00myreducer\x00data"),
    ("WORK_STATUS", T.WORK_STATUS, (b"H:vm:4", b"1", b"4"), b"H:vm:4\x001\x004"),
    ("WORK_DATA", T.WORK_DATA, (b"H:vm:4", b"part1"), b"H:vm:4\x00part1"),
    ("WORK_WARNING", T.WORK_WARNING, (b"H:vm:4", b"warn1"), b"H:vm:4\x00warn1"),
    ("WORK_COMPLETE", T.WORK_COMPLETE, (b"H:vm:4", b"done"), b"H:vm:4\x00done"),
    ("WORK_EXCEPTION", T.WORK_EXCEPTION, (b"H:vm:5", b"boom"), b"H:vm:5\x00boom"),
    ("WORK_FAIL for an exception (trailing NUL)", T.WORK_FAIL, (b"H:vm:5", b""), b"H:vm:5\x00"),
    ("WORK_FAIL", T.WORK_FAIL, (b"H:vm:6",), b"H:vm:6"),
    ("WORK_FAIL verbatim", T.WORK_FAIL, (b"H:vm:7\x00",), b"H:vm:7\x00"),
]


@pytest.mark.parametrize("ptype, fields, payload", [t[1:] for t in TRANSCRIPTS],
                         ids=[t[0] for t in TRANSCRIPTS])
def test_encode_matches_gearmand(ptype: int, fields: tuple, payload: bytes) -> None:
    assert encode(ptype, *fields) == res(ptype, payload)
    assert encode_request(ptype, *fields) == b"\0REQ" + res(ptype, payload)[4:]


def test_error_texts_match_gearmand() -> None:
    """errors.py against the §1.3 table."""
    assert errors.INVALID_COMMAND == (b"INVALID_COMMAND", b"Command not expected")
    assert errors.UNIQUE_TOO_LARGE == (b"ARGUMENT_TOO_LARGE", b"Unique value too large")
    assert errors.QUEUE_FULL == (b"QUEUE_ERROR", b"Job queue is full")
    assert errors.UNKNOWN_OPTION == (b"UNKNOWN_OPTION", b"Server does not recognize given option")
    assert errors.JOB_NOT_FOUND_DATA == (b"JOB_NOT_FOUND", b"Job does not exist on server")
    assert errors.JOB_NOT_FOUND_RESULT == (b"JOB_NOT_FOUND", b"Job given in work result not found")
    assert errors.JOB_NOT_FOUND_EXCEPTION == (
        b"JOB_NOT_FOUND", b"An exception was received for a job that does not exist")


# ---- round trip ---------------------------------------------------------------------------------

def _random_fields(rng: random.Random, argc: int, data: bool) -> tuple[bytes, ...]:
    """Random fields for a type: NUL-terminated ones without NULs, the last (rest/data) anything."""
    def blob(allow_nul: bool) -> bytes:
        n = rng.choice((0, 1, 2, 7, 64, rng.randrange(300)))
        raw = bytes(rng.randrange(256) for _ in range(n))
        return raw if allow_nul else raw.replace(b"\0", b"\1")

    nul_terminated = argc if data else max(argc - 1, 0)
    fields = [blob(False) for _ in range(nul_terminated)]
    if data or argc:
        fields.append(blob(True))
    return tuple(fields)


@pytest.mark.parametrize("ptype", range(1, 43),
                         ids=[GEARMAND_COMMAND_INFO[t][0] for t in range(1, 43)])
def test_round_trip(ptype: int) -> None:
    _, argc, data = GEARMAND_COMMAND_INFO[ptype]
    rng = random.Random(ptype)
    decoder = Decoder()
    stream, expected = b"", []
    for _ in range(50):
        fields = _random_fields(rng, argc, data)
        packet = encode_request(ptype, *fields)
        assert decoder.feed(packet) == [P(ptype, *fields)], fields
        stream += packet
        expected.append(P(ptype, *fields))
        # The same fields with response magic are consumed whole and rejected.
        assert norm(decoder.feed(encode(ptype, *fields))) == norm([RES_MAGIC])
    assert Decoder().feed(stream) == expected
    assert decoder.buffered == 0


def test_a_large_last_field_is_not_joined() -> None:
    data = b"d" * codec.LARGE
    packet = encode(T.JOB_ASSIGN, b"H:1", b"f", data)
    assert isinstance(packet, codec.Spread) and packet[1] is data
    assert packet[0] + packet[1] == res(T.JOB_ASSIGN, b"H:1\0f\0" + data)
    echo = encode(T.ECHO_RES, data)
    assert echo[0] + echo[1] == res(T.ECHO_RES, data)
