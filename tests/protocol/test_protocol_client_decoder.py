"""The client side of the codec: ``ResponseDecoder`` reads what a server sends (``\\0RES``), with
the same splitting rules, limits and chunking invariance as the server's ``Decoder``; the
server's decoder still refuses response magic exactly as before."""

from __future__ import annotations

import socket

import pytest

from gearmand_py.protocol.codec import LARGE, Decoder, ResponseDecoder, encode, encode_request
from gearmand_py.protocol.events import Rejected
from tests.protocol.corpus import (
    CLOSE, RES_MAGIC, TOO_FEW, TOO_LARGE, P, T, frame, norm, read_events, req, res,
)
from tests.support.servers import ServerProcess

#: What a server sends a client or worker, as raw bytes and the packet they decode to.
RESPONSES = [
    (res(T.NOOP), P(T.NOOP)),
    (res(T.NO_JOB), P(T.NO_JOB)),
    (res(T.JOB_CREATED, b"H:host:1"), P(T.JOB_CREATED, b"H:host:1")),
    (res(T.JOB_ASSIGN, b"H:h:1\0echo\0da\0ta"), P(T.JOB_ASSIGN, b"H:h:1", b"echo", b"da\0ta")),
    (res(T.JOB_ASSIGN_UNIQ, b"H:h:1\0echo\0u\0"), P(T.JOB_ASSIGN_UNIQ, b"H:h:1", b"echo", b"u", b"")),
    (res(T.JOB_ASSIGN_ALL, b"H:h:1\0f\0u\0r\0d"),
     P(T.JOB_ASSIGN_ALL, b"H:h:1", b"f", b"u", b"r", b"d")),
    (res(T.WORK_STATUS, b"H:h:1\x001\x002"), P(T.WORK_STATUS, b"H:h:1", b"1", b"2")),
    (res(T.WORK_COMPLETE, b"H:h:1\0result"), P(T.WORK_COMPLETE, b"H:h:1", b"result")),
    (res(T.WORK_FAIL, b"H:h:1"), P(T.WORK_FAIL, b"H:h:1")),
    (res(T.WORK_EXCEPTION, b"H:h:1\0boom"), P(T.WORK_EXCEPTION, b"H:h:1", b"boom")),
    (res(T.WORK_DATA, b"H:h:1\0part"), P(T.WORK_DATA, b"H:h:1", b"part")),
    (res(T.WORK_WARNING, b"H:h:1\0warn"), P(T.WORK_WARNING, b"H:h:1", b"warn")),
    (res(T.ECHO_RES, b"ping"), P(T.ECHO_RES, b"ping")),
    (res(T.ERROR, b"QUEUE_ERROR\0Job queue is full"),
     P(T.ERROR, b"QUEUE_ERROR", b"Job queue is full")),
    (res(T.STATUS_RES, b"H:h:1\x001\x000\x000\x000"),
     P(T.STATUS_RES, b"H:h:1", b"1", b"0", b"0", b"0")),
    (res(T.STATUS_RES_UNIQUE, b"u\x001\x001\x003\x004\x002"),
     P(T.STATUS_RES_UNIQUE, b"u", b"1", b"1", b"3", b"4", b"2")),
    (res(T.OPTION_RES, b"exceptions"), P(T.OPTION_RES, b"exceptions")),
]
STREAM = b"".join(data for data, _ in RESPONSES)
EXPECTED = [event for _, event in RESPONSES]


def _feed(decoder: Decoder, chunks: list[bytes]) -> list:
    events: list = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


@pytest.mark.parametrize("size", [1, 2, 5, 12, 13, 64, len(STREAM)])
def test_every_response_type_decodes_at_every_chunk_size(size: int) -> None:
    chunks = [STREAM[i:i + size] for i in range(0, len(STREAM), size)]
    decoder = ResponseDecoder()
    assert _feed(decoder, chunks) == EXPECTED
    assert decoder.buffered == 0 and not decoder.dead


def test_request_magic_from_a_server_is_refused_and_the_stream_stays_in_sync() -> None:
    events = ResponseDecoder().feed(req(T.SUBMIT_JOB, b"f\0u\0d") + res(T.NOOP))
    assert events == [Rejected(b"INVALID_MAGIC", b"Response magic expected"), P(T.NOOP)]


def test_the_server_decoder_still_refuses_response_magic() -> None:
    assert Decoder().feed(res(T.NOOP) + req(T.GRAB_JOB)) == [RES_MAGIC, P(T.GRAB_JOB)]


def test_short_and_oversized_and_bad_magic_as_on_the_server_side() -> None:
    assert ResponseDecoder().feed(res(T.JOB_ASSIGN, b"H:1")) == [TOO_FEW]
    decoder = ResponseDecoder(max_packet_size=100)
    assert norm(decoder.feed(frame(b"\0RES", T.WORK_COMPLETE, b"", size=101))) == norm([TOO_LARGE])
    assert decoder.dead and decoder.feed(res(T.NOOP)) == []
    assert norm(ResponseDecoder().feed(frame(b"\0XYZ", T.NOOP, b""))) == norm([CLOSE])


def test_a_large_result_arrives_whole() -> None:
    data = bytes(range(256)) * (LARGE // 256 + 3)
    packet = res(T.WORK_COMPLETE, b"H:h:9\0" + data)
    chunks = [packet[i:i + 65536] for i in range(0, len(packet), 65536)]
    [(ptype, (handle, result))] = _feed(ResponseDecoder(), chunks)
    assert (ptype, handle, bytes(result)) == (T.WORK_COMPLETE, b"H:h:9", data)


def test_encode_and_decode_are_inverse_across_sides() -> None:
    """``encode`` (server) feeds ``ResponseDecoder``; ``encode_request`` (client) feeds
    ``Decoder``."""
    assert ResponseDecoder().feed(encode(T.JOB_ASSIGN_UNIQ, b"H:1", b"f", b"u", b"d")) == [
        P(T.JOB_ASSIGN_UNIQ, b"H:1", b"f", b"u", b"d")]
    assert Decoder().feed(encode_request(T.SUBMIT_JOB_LOW, b"f", b"u", b"d")) == [
        P(T.SUBMIT_JOB_LOW, b"f", b"u", b"d")]


def test_what_real_servers_send_decodes(server: ServerProcess) -> None:
    """A worker's and a client's view of one job on each server, read with ResponseDecoder."""
    with socket.create_connection(server.address, timeout=5) as worker, \
            socket.create_connection(server.address, timeout=5) as client:
        worker.sendall(encode_request(T.CAN_DO, b"decode-fn")
                       + encode_request(T.ECHO_REQ, b"sync"))
        wdec, cdec = ResponseDecoder(), ResponseDecoder()
        assert read_events(worker, wdec, 1) == [P(T.ECHO_RES, b"sync")]
        client.sendall(encode_request(T.SUBMIT_JOB, b"decode-fn", b"uq", b"payload"))
        [(ptype, (handle,))] = read_events(client, cdec, 1)
        assert ptype == T.JOB_CREATED
        worker.sendall(encode_request(T.GRAB_JOB_UNIQ))
        assert read_events(worker, wdec, 1) == [P(T.JOB_ASSIGN_UNIQ, handle, b"decode-fn", b"uq",
                                            b"payload")]
        worker.sendall(encode_request(T.WORK_STATUS, handle, b"1", b"2")
                       + encode_request(T.WORK_COMPLETE, handle, b"done"))
        assert read_events(client, cdec, 2) == [P(T.WORK_STATUS, handle, b"1", b"2"),
                                          P(T.WORK_COMPLETE, handle, b"done")]

