"""The test harness's response parser: it must reject what a real client could not parse."""

from __future__ import annotations

import pytest

from gearmand_py.protocol.codec import encode_request
from gearmand_py.protocol.packets import PacketType as T
from tests.core.harness import ProtocolViolation, parse_responses


def res(ptype: int, body: bytes) -> bytes:
    return b"\0RES" + ptype.to_bytes(4, "big") + len(body).to_bytes(4, "big") + body


def test_parses_fields_with_the_last_taking_the_rest():
    assert parse_responses(res(T.JOB_ASSIGN, b"H:1\0f\0da\0ta")) == [
        ("JOB_ASSIGN", b"H:1", b"f", b"da\0ta")]


def test_parses_text_between_packets():
    assert parse_responses(b"OK x\n" + res(T.NOOP, b"")) == [("TEXT", b"OK x\n"), ("NOOP",)]


@pytest.mark.parametrize("data", [
    encode_request(T.NOOP),                 # request magic in a response stream
    res(T.JOB_ASSIGN, b"H:1\0f"),           # too few fields
    res(T.NOOP, b"x"),                      # body on a packet without fields
    res(T.SUBMIT_JOB, b"f\0\0d"),           # not a response type
    res(T.ECHO_RES, b"abc")[:-1],           # truncated
], ids=["req-magic", "few-fields", "noop-body", "not-response", "truncated"])
def test_rejects_what_a_client_could_not_parse(data):
    with pytest.raises(ProtocolViolation):
        parse_responses(data)
