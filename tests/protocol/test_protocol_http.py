"""The HTTP protocol's two sides, driven with bytes only: requests in, the core's gear events out;
the core's gear replies (built with ``encode``) in, HTTP responses out, read back by h11 as a
client reads them, so every response is checked to be valid HTTP as well as right."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gearmand_py import __version__
from gearmand_py.protocol.codec import LARGE, encode
from gearmand_py.protocol.events import Rejected
from gearmand_py.protocol.http import (
    MAX_HEAD,
    SUBMIT_TYPES,
    WINDOW,
    HttpRequests,
    HttpResponses,
    http_protocol,
)
from gearmand_py.protocol.packets import PacketType as T
from tests.support.strategies import chunked


@dataclass
class Reply:
    """One response as an HTTP client sees it."""

    status: int
    version: bytes
    headers: dict[bytes, bytes]
    body: bytes
    trailers: dict[bytes, bytes]
    #: The client may not send another request on this connection.
    closes: bool


def parse(data: bytes, methods: Sequence[bytes]) -> list[Reply]:
    """``data`` as the responses to requests with these methods, in order; every byte must
    belong to one of them and each must be complete."""
    replies = []
    for method in methods:
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        if data:
            client.receive_data(data)
        body = []
        while True:
            event = client.next_event()
            assert event is not h11.NEED_DATA, f"incomplete response in {data!r}"
            if isinstance(event, h11.InformationalResponse):
                assert event.status_code == 100  # the answer to Expect: 100-continue
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body.append(bytes(event.data))
            else:
                assert isinstance(event, h11.EndOfMessage)
                trailers = event.headers
                break
        replies.append(Reply(response.status_code, response.http_version,
                             dict(response.headers), b"".join(body), dict(trailers),
                             client.their_state is h11.MUST_CLOSE))
        data = client.trailing_data[0]
    assert data == b"", f"bytes after the last response: {data!r}"
    return replies


def request(target: str = "/rev", method: str = "POST", body: bytes = b"",
            version: str = "1.1", **headers: str) -> bytes:
    """An HTTP request; ``X_Gearman_Unique="u"`` is the header ``X-Gearman-Unique: u``."""
    lines = [f"{method} {target} HTTP/{version}"]
    if version == "1.1":
        lines.append("Host: gearmand")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def job_created(handle: bytes) -> bytes:
    return encode(T.JOB_CREATED, handle)  # type: ignore[return-value]


def complete(handle: bytes, result: bytes) -> bytes:
    return encode(T.WORK_COMPLETE, handle, result)  # type: ignore[return-value]


def exchange(requests: bytes, *replies: bytes, methods: Sequence[bytes] = (b"POST",)
             ) -> tuple[list, list[Reply], bool]:
    """Feed ``requests``, render the core's ``replies``; the events, the responses and whether
    the connection must close."""
    incoming, outgoing = http_protocol()
    events = incoming.feed(requests)
    out, close = outgoing.render(b"".join(replies))
    return events, parse(out, methods), close


# --- requests become submits ------------------------------------------------------------------

def test_a_foreground_post_submits_its_body_and_is_answered_with_the_result() -> None:
    events, [reply], close = exchange(request(body=b"hello"), job_created(b"H:x:1"),
                                      complete(b"H:x:1", b"olleh"))
    assert events == [(T.SUBMIT_JOB, (b"rev", b"-", b"hello"))]
    assert (reply.status, reply.version, reply.body) == (200, b"1.1", b"olleh")
    assert reply.headers[b"x-gearman-job-handle"] == b"H:x:1"
    assert reply.headers[b"x-gearman-command"] == b"WORK_COMPLETE"
    assert reply.headers[b"content-length"] == b"5"
    assert reply.headers[b"server"] == b"gearmand-py/" + __version__.encode()
    assert b"date" in reply.headers
    assert not close and not reply.closes


def test_the_result_waits_for_the_job_not_for_job_created() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request(body=b"hello"))
    assert outgoing.render(job_created(b"H:x:1")) == (b"", False)
    out, close = outgoing.render(complete(b"H:x:1", b"olleh"))
    assert parse(out, [b"POST"])[0].body == b"olleh"


@pytest.mark.parametrize("method, body, workload", [
    ("GET", b"", b""), ("GET", b"dropped", b""), ("PUT", b"data", b"data"),
    ("POST", b"", b""), ("HEAD", b"", b"")])
def test_post_and_put_carry_the_workload_get_and_head_submit_none(method, body, workload) -> None:
    incoming, _ = http_protocol()
    assert incoming.feed(request(method=method, body=body)) == [
        (T.SUBMIT_JOB, (b"rev", b"-", workload))]


@pytest.mark.parametrize("headers, ptype", [
    ({}, T.SUBMIT_JOB),
    ({"X_Gearman_Priority": "high"}, T.SUBMIT_JOB_HIGH),
    ({"X_Gearman_Priority": "low"}, T.SUBMIT_JOB_LOW),
    ({"X_Gearman_Priority": "HIGH"}, T.SUBMIT_JOB_HIGH),
    ({"X_Gearman_Priority": "normal"}, T.SUBMIT_JOB),
    ({"X_Gearman_Background": "true"}, T.SUBMIT_JOB_BG),
    ({"X_Gearman_Background": "TRUE"}, T.SUBMIT_JOB_BG),
    ({"X_Gearman_Background": "1"}, T.SUBMIT_JOB),
    ({"X_Gearman_Background": "true", "X_Gearman_Priority": "high"}, T.SUBMIT_JOB_HIGH_BG),
    ({"X_Gearman_Background": "true", "X_Gearman_Priority": "Low"}, T.SUBMIT_JOB_LOW_BG),
])
def test_background_and_priority_headers_choose_the_submit(headers, ptype) -> None:
    """Values compared case-insensitively, as gearmand 1.1.20 does (checked with curl)."""
    incoming, _ = http_protocol()
    [(got, _args)] = incoming.feed(request(**headers))
    assert got == ptype


@pytest.mark.parametrize("headers, unique", [
    ({}, b"-"), ({"X_Gearman_Unique": "job-7"}, b"job-7"), ({"x_gearman_unique": "low"}, b"low"),
    ({"X_Gearman_Unique": ""}, b"")])
def test_the_unique_header_defaults_to_a_dash(headers, unique) -> None:
    incoming, _ = http_protocol()
    [(_ptype, (_function, got, _data))] = incoming.feed(request(**headers))
    assert got == unique


@pytest.mark.parametrize("target, function", [
    ("/rev", b"rev"), ("//rev", b"rev"), ("/a/b", b"a/b"), ("/f?x=1", b"f?x=1"),
    ("/a%20b", b"a%20b")])
def test_the_function_is_the_target_without_its_leading_slashes(target, function) -> None:
    incoming, _ = http_protocol()
    [(_ptype, (got, _unique, _data))] = incoming.feed(request(target=target))
    assert got == function


def test_a_background_job_is_answered_at_job_created() -> None:
    events, [reply], close = exchange(request(X_Gearman_Background="true", body=b"x"),
                                      job_created(b"H:x:9"))
    assert events == [(T.SUBMIT_JOB_BG, (b"rev", b"-", b"x"))]
    assert (reply.status, reply.body) == (200, b"")
    assert reply.headers[b"x-gearman-command"] == b"JOB_CREATED"
    assert reply.headers[b"x-gearman-job-handle"] == b"H:x:9"


def test_a_request_cut_anywhere_is_the_same_request() -> None:
    wire = request(body=b"hello", X_Gearman_Unique="u") * 2
    for cut in range(len(wire) + 1):
        incoming, _ = http_protocol()
        events = incoming.feed(wire[:cut]) + incoming.feed(wire[cut:])
        assert events == [(T.SUBMIT_JOB, (b"rev", b"u", b"hello"))] * 2


def test_a_chunked_body_is_the_workload() -> None:
    incoming, _ = http_protocol()
    wire = (b"POST /rev HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert incoming.feed(wire) == [(T.SUBMIT_JOB, (b"rev", b"-", b"abcde"))]


def test_the_trailers_of_a_chunked_body_change_nothing() -> None:
    incoming, _ = http_protocol()
    wire = (b"POST /rev HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nab\r\n0\r\nX-Gearman-Unique: late\r\n\r\n")
    assert incoming.feed(wire + request()) == [(T.SUBMIT_JOB, (b"rev", b"-", b"ab")),
                                               (T.SUBMIT_JOB, (b"rev", b"-", b""))]


@pytest.mark.parametrize("wire", [
    b"GET /rev HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"CONNECT /rev HTTP/1.1\r\nHost: x\r\n\r\n"])
def test_a_request_to_switch_protocols_is_answered_and_ends_the_connection(wire) -> None:
    incoming, outgoing = http_protocol()
    [event] = incoming.feed(wire + request())
    assert incoming.dead
    if isinstance(event, Rejected):
        out, close = outgoing.render(encode(T.ERROR, event.code, event.text))
    else:
        out, close = outgoing.render(job_created(b"H:x:1") + complete(b"H:x:1", b"r"))
    [reply] = parse(out, [b"GET"])
    assert close and reply.closes and reply.status in (200, 405)


def test_lines_ended_by_a_bare_lf_are_taken_as_gearmand_does() -> None:
    incoming, _ = http_protocol()
    wire = b"POST /rev HTTP/1.1\nHost: x\nContent-Length: 2\n\nab"
    assert incoming.feed(wire * 2) == [(T.SUBMIT_JOB, (b"rev", b"-", b"ab"))] * 2


def test_empty_lines_between_requests_are_ignored() -> None:
    incoming, _ = http_protocol()
    wire = b"\r\n" + request(body=b"a") + b"\r\n\r\n" + request(body=b"b")
    assert [args[2] for _t, args in incoming.feed(wire)] == [b"a", b"b"]


def test_buffered_counts_the_body_so_far() -> None:
    incoming, _ = http_protocol()
    wire = request(body=b"hello")
    head = wire.index(b"\r\n\r\n") + 4
    assert incoming.feed(wire[:head - 2]) == []
    assert incoming.buffered == 0  # llhttp holds no input; a head is bounded by MAX_HEAD
    assert incoming.feed(wire[head - 2:-2]) == []
    assert incoming.buffered == 3  # the body so far
    assert incoming.feed(wire[-2:]) != []
    assert incoming.buffered == 0


# --- pipelining and order ---------------------------------------------------------------------

def test_pipelined_requests_are_all_in_flight_and_answered_in_request_order() -> None:
    incoming, outgoing = http_protocol()
    events = incoming.feed(b"".join(request(body=b"%d" % n) for n in range(3)))
    assert [args[2] for _t, args in events] == [b"0", b"1", b"2"]
    created = b"".join(job_created(b"H:x:%d" % n) for n in range(3))
    assert outgoing.render(created) == (b"", False)
    # The last job finishes first: its response waits for the other two.
    assert outgoing.render(complete(b"H:x:2", b"two")) == (b"", False)
    out, _ = outgoing.render(complete(b"H:x:0", b"zero"))
    assert [r.body for r in parse(out, [b"POST"])] == [b"zero"]
    out, _ = outgoing.render(complete(b"H:x:1", b"one"))
    replies = parse(out, [b"POST"] * 2)
    assert [(r.body, r.headers[b"x-gearman-job-handle"]) for r in replies] == [
        (b"one", b"H:x:1"), (b"two", b"H:x:2")]


def test_two_requests_with_one_unique_share_the_handle_and_its_one_result() -> None:
    wire = request(body=b"a", X_Gearman_Unique="same") * 2
    events, replies, _ = exchange(wire, job_created(b"H:x:1"), job_created(b"H:x:1"),
                                  complete(b"H:x:1", b"r"), methods=[b"POST"] * 2)
    assert len(events) == 2
    assert [(r.body, r.headers[b"x-gearman-job-handle"]) for r in replies] == [
        (b"r", b"H:x:1")] * 2


def test_a_background_request_behind_a_foreground_one_waits_for_it() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request() + request(X_Gearman_Background="true"))
    assert outgoing.render(job_created(b"H:x:1") + job_created(b"H:x:2")) == (b"", False)
    out, _ = outgoing.render(complete(b"H:x:1", b"r"))
    assert [r.headers[b"x-gearman-command"] for r in parse(out, [b"POST"] * 2)] == [
        b"WORK_COMPLETE", b"JOB_CREATED"]


def test_the_core_output_may_arrive_cut_anywhere_or_as_a_memoryview() -> None:
    replies = job_created(b"H:x:1") + complete(b"H:x:1", b"result")
    for cut in range(len(replies) + 1):
        incoming, outgoing = http_protocol()
        incoming.feed(request())
        first, _ = outgoing.render(memoryview(replies[:cut]))
        second, _ = outgoing.render(replies[cut:])
        assert parse(first + second, [b"POST"])[0].body == b"result"


def test_a_large_result_sent_as_a_spread_is_the_body() -> None:
    result = b"r" * LARGE
    spread = encode(T.WORK_COMPLETE, b"H:x:1", result)
    incoming, outgoing = http_protocol()
    incoming.feed(request())
    outgoing.render(job_created(b"H:x:1"))
    head, data = spread
    out = outgoing.render(head)[0] + outgoing.render(data)[0]
    assert parse(out, [b"POST"])[0].body == result


def test_every_answered_request_leaves_nothing_behind() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request() + request(target="/") + request(X_Gearman_Background="true"))
    outgoing.render(job_created(b"H:x:1") + encode(T.ERROR, b"HTTP_404", b"no")
                    + job_created(b"H:x:2"))
    assert outgoing.held == len(b"no\n")
    outgoing.render(complete(b"H:x:1", b"r"))
    assert outgoing.held == 0
    assert not outgoing._records and not outgoing._order and not outgoing._waiting


# --- keep-alive, close and versions -----------------------------------------------------------

def test_http_1_1_keeps_the_connection_by_default() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request())
    out, close = outgoing.render(job_created(b"H:x:1") + complete(b"H:x:1", b"r"))
    [reply] = parse(out, [b"POST"])
    assert not close and not reply.closes and b"connection" not in reply.headers
    assert not incoming.dead
    assert incoming.feed(request()) != []


def test_connection_close_is_honoured_and_nothing_after_it_is_read() -> None:
    incoming, outgoing = http_protocol()
    events = incoming.feed(request(Connection="close") + request(target="/never"))
    assert len(events) == 1 and incoming.dead
    assert incoming.feed(request()) == []
    out, close = outgoing.render(job_created(b"H:x:1") + complete(b"H:x:1", b"r"))
    [reply] = parse(out, [b"POST"])
    assert close and reply.closes and reply.headers[b"connection"] == b"close"
    assert outgoing.render(complete(b"H:x:2", b"late")) == (b"", True)


def test_http_1_0_gets_http_1_0_and_is_closed_unless_it_asks_for_keep_alive() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request(version="1.0", body=b"a") + request(version="1.0"))
    assert incoming.dead
    out, close = outgoing.render(job_created(b"H:x:1") + complete(b"H:x:1", b"r"))
    [reply] = parse(out, [b"POST"])
    assert close and reply.version == b"1.0" and b"connection" not in reply.headers


def test_http_1_0_keep_alive_keeps_the_connection_and_says_so() -> None:
    incoming, outgoing = http_protocol()
    events = incoming.feed(request(version="1.0", Connection="Keep-Alive") * 2)
    assert len(events) == 2 and not incoming.dead
    out, close = outgoing.render(job_created(b"H:x:1") + job_created(b"H:x:2")
                                 + complete(b"H:x:1", b"1") + complete(b"H:x:2", b"2"))
    replies = parse(out, [b"POST"] * 2)
    assert not close
    assert [(r.version, r.headers[b"connection"], r.body) for r in replies] == [
        (b"1.0", b"keep-alive", b"1"), (b"1.0", b"keep-alive", b"2")]


def test_responses_before_the_closing_one_are_still_sent() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request() + request(Connection="close"))
    outgoing.render(job_created(b"H:x:1") + job_created(b"H:x:2"))
    assert outgoing.render(complete(b"H:x:2", b"2")) == (b"", False)
    out, close = outgoing.render(complete(b"H:x:1", b"1"))
    assert close and [r.body for r in parse(out, [b"POST"] * 2)] == [b"1", b"2"]


# --- WORK_DATA, WORK_STATUS, WORK_WARNING -----------------------------------------------------

def test_work_data_is_streamed_chunked_with_the_result_last_and_the_command_trailing() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request())
    outgoing.render(job_created(b"H:x:1"))
    first, _ = outgoing.render(encode(T.WORK_DATA, b"H:x:1", b"chunk1"))
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and first.endswith(b"6\r\nchunk1\r\n")
    rest = b"".join(outgoing.render(encode(T.WORK_DATA, b"H:x:1", data))[0]
                    for data in (b"", b"chunk2"))
    rest += outgoing.render(complete(b"H:x:1", b"done"))[0]
    [reply] = parse(first + rest, [b"POST"])
    assert (reply.status, reply.body) == (200, b"chunk1chunk2done")
    assert reply.headers[b"transfer-encoding"] == b"chunked"
    assert reply.headers[b"x-gearman-job-handle"] == b"H:x:1"
    assert reply.trailers == {b"x-gearman-command": b"WORK_COMPLETE"}


def test_a_job_failing_after_its_stream_began_says_so_in_the_trailer() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request())
    out = outgoing.render(job_created(b"H:x:1") + encode(T.WORK_DATA, b"H:x:1", b"part"))[0]
    out += outgoing.render(encode(T.WORK_FAIL, b"H:x:1"))[0]
    [reply] = parse(out, [b"POST"])
    assert (reply.status, reply.body) == (200, b"part")
    assert reply.trailers == {b"x-gearman-command": b"WORK_FAIL"}


def test_a_job_failing_before_its_stream_began_is_a_500_with_its_data() -> None:
    _, [reply], _ = exchange(request(), job_created(b"H:x:1"),
                             encode(T.WORK_DATA, b"H:x:1", b"part"), encode(T.WORK_FAIL, b"H:x:1"))
    assert (reply.status, reply.body) == (500, b"part")
    assert reply.headers[b"x-gearman-command"] == b"WORK_FAIL"


def test_work_data_for_http_1_0_is_collected_into_the_body() -> None:
    events, [reply], _ = exchange(request(version="1.0"), job_created(b"H:x:1"),
                                  encode(T.WORK_DATA, b"H:x:1", b"a"),
                                  encode(T.WORK_DATA, b"H:x:1", b"b"), complete(b"H:x:1", b"c"))
    assert (reply.version, reply.body, reply.headers[b"content-length"]) == (b"1.0", b"abc", b"3")
    assert reply.headers[b"x-gearman-command"] == b"WORK_COMPLETE"


def test_work_data_behind_an_unfinished_response_is_held_then_streamed() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request() * 2)
    outgoing.render(job_created(b"H:x:1") + job_created(b"H:x:2"))
    assert outgoing.render(encode(T.WORK_DATA, b"H:x:2", b"early")) == (b"", False)
    assert outgoing.held == 5
    out, _ = outgoing.render(complete(b"H:x:1", b"one"))
    assert out.endswith(b"5\r\nearly\r\n")
    out += outgoing.render(complete(b"H:x:2", b"two"))[0]
    replies = parse(out, [b"POST"] * 2)
    assert [r.body for r in replies] == [b"one", b"earlytwo"]


def test_work_data_finished_before_its_turn_goes_out_with_a_length() -> None:
    incoming, outgoing = http_protocol()
    incoming.feed(request() * 2)
    outgoing.render(job_created(b"H:x:1") + job_created(b"H:x:2")
                    + encode(T.WORK_DATA, b"H:x:2", b"d") + complete(b"H:x:2", b"r"))
    out, _ = outgoing.render(complete(b"H:x:1", b"one"))
    second = parse(out, [b"POST"] * 2)[1]
    assert (second.body, second.headers[b"content-length"]) == (b"dr", b"2")


def test_work_status_and_work_warning_change_nothing() -> None:
    _, [reply], _ = exchange(request(), job_created(b"H:x:1"),
                             encode(T.WORK_STATUS, b"H:x:1", b"1", b"2"),
                             encode(T.WORK_WARNING, b"H:x:1", b"careful"),
                             complete(b"H:x:1", b"r"))
    assert (reply.body, reply.headers[b"x-gearman-command"]) == (b"r", b"WORK_COMPLETE")


# --- status codes -----------------------------------------------------------------------------

@pytest.mark.parametrize("packet, body", [
    (encode(T.WORK_FAIL, b"H:x:1"), b""),
    (encode(T.WORK_EXCEPTION, b"H:x:1", b"boom"), b"boom")])
def test_a_failed_job_is_a_500_with_work_fail(packet, body) -> None:
    _, [reply], _ = exchange(request(), job_created(b"H:x:1"), packet)
    assert (reply.status, reply.body) == (500, body)
    assert reply.headers[b"x-gearman-command"] == b"WORK_FAIL"
    assert reply.headers[b"x-gearman-job-handle"] == b"H:x:1"
    assert not reply.closes


@pytest.mark.parametrize("code, status", [
    (b"QUEUE_ERROR", 503), (b"ARGUMENT_TOO_LARGE", 400), (b"SOMETHING_ELSE", 500)])
def test_the_cores_errors_become_statuses_with_their_text(code, status) -> None:
    _, [reply], close = exchange(request(), encode(T.ERROR, code, b"Job queue is full"))
    assert (reply.status, reply.body) == (status, b"Job queue is full\n")
    assert reply.headers[b"content-type"] == b"text/plain"
    assert not close and not reply.closes


def answer_errors(incoming: HttpRequests, outgoing: HttpResponses, wire: bytes,
                  method: bytes = b"POST") -> tuple[list, Reply, bool]:
    """Feed ``wire``, answer its one event as the core answers a ``Rejected``, and read the
    response."""
    [event] = incoming.feed(wire)
    assert isinstance(event, Rejected)
    out, close = outgoing.render(encode(T.ERROR, event.code, event.text))
    return event, parse(out, [method])[0], close


CLOSING = [
    ("garbage", b"garbage\r\n\r\n", 400),
    ("unknown method", b"get /rev HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("two Hosts", b"GET /rev HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
    ("HTTP/3.0", b"GET /rev HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    ("no Host", b"GET /rev HTTP/1.1\r\n\r\n", 400),
    ("bad length", b"POST /rev HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400),
    ("head too long", b"GET /rev HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (MAX_HEAD + WINDOW)
     + b"\r\n\r\n", 431),
    ("gzip", b"POST /rev HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ("HTTP/2.0", b"GET /rev HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("too large", request(body=b"x" * 100), 413),
    ("chunks too large", b"POST /rev HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"40\r\n" + b"x" * 64 + b"\r\n" + b"40\r\n" + b"x" * 64 + b"\r\n", 413),
]


@pytest.mark.parametrize("wire, status", [c[1:] for c in CLOSING], ids=[c[0] for c in CLOSING])
def test_bad_requests_get_their_status_and_end_the_connection(wire, status) -> None:
    incoming, outgoing = http_protocol(max_packet_size=100)
    event, reply, close = answer_errors(incoming, outgoing, wire + request())
    assert event.code == b"HTTP_%d" % status
    assert reply.status == status and reply.closes and close
    assert reply.body.endswith(b"\n") and incoming.dead


def test_a_body_that_just_fits_the_packet_size_is_a_job() -> None:
    # function "rev" + unique "-" + two NULs + body = max_packet_size
    incoming, _ = http_protocol(max_packet_size=100)
    assert incoming.feed(request(body=b"x" * 94))[0][0] == T.SUBMIT_JOB
    incoming, _ = http_protocol(max_packet_size=100)
    assert incoming.feed(request(body=b"x" * 95))[0].code == b"HTTP_413"


@pytest.mark.parametrize("piece", [1000, WINDOW])
def test_a_head_of_up_to_max_head_bytes_is_read_however_it_arrives(piece) -> None:
    wire = b"".join(request(X_Long="a" * (MAX_HEAD - 100)) for _ in range(3))
    incoming, _ = http_protocol()
    events = []
    for pos in range(0, len(wire), piece):
        events += incoming.feed(wire[pos:pos + piece])
    assert events == [(T.SUBMIT_JOB, (b"rev", b"-", b""))] * 3


@pytest.mark.parametrize("start", [
    b"GET /rev HTTP/1.1\r\nHost: x\r\nX: ",
    b"POST /rev HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: "])
def test_a_head_or_trailer_that_never_ends_gets_431_within_max_head_and_a_window(start) -> None:
    incoming, _ = http_protocol()
    incoming.feed(start)
    fed = 0
    while not incoming.dead:
        events = incoming.feed(b"a" * 1000)
        fed += 1000
    assert [event.code for event in events] == [b"HTTP_431"]
    assert MAX_HEAD <= fed <= MAX_HEAD + WINDOW


def test_413_is_answered_before_the_body_arrives() -> None:
    incoming, outgoing = http_protocol(max_packet_size=100)
    wire = request(body=b"x" * 1000)
    [event] = incoming.feed(wire[:wire.index(b"\r\n\r\n") + 4])
    assert event.code == b"HTTP_413" and incoming.dead and incoming.buffered == 0


def test_no_function_is_a_404_and_the_connection_stays() -> None:
    incoming, outgoing = http_protocol()
    event, reply, close = answer_errors(incoming, outgoing, request(target="/", method="GET"),
                                        b"GET")
    assert reply.status == 404 and not reply.closes and not close
    assert incoming.feed(request()) != []


@pytest.mark.parametrize("method", ["DELETE", "TRACE", "OPTIONS", "PATCH"])
def test_other_methods_are_a_405_naming_the_accepted_ones(method) -> None:
    incoming, outgoing = http_protocol()
    event, reply, close = answer_errors(incoming, outgoing, request(method=method, body=b"x"))
    assert reply.status == 405 and reply.headers[b"allow"] == b"GET, HEAD, POST, PUT"
    assert not reply.closes and not close
    assert incoming.feed(request()) != []


def test_head_gets_the_headers_of_a_get_without_the_body() -> None:
    _, [reply], _ = exchange(request(method="HEAD"), job_created(b"H:x:1"),
                             encode(T.WORK_DATA, b"H:x:1", b"data"), complete(b"H:x:1", b"r"),
                             methods=[b"HEAD"])
    assert (reply.status, reply.body, reply.headers[b"content-length"]) == (200, b"", b"5")
    assert reply.headers[b"x-gearman-command"] == b"WORK_COMPLETE"


def test_a_head_error_has_no_body() -> None:
    incoming, outgoing = http_protocol()
    _, reply, _ = answer_errors(incoming, outgoing, request(target="/", method="HEAD"), b"HEAD")
    assert (reply.status, reply.body) == (404, b"")


# --- any input --------------------------------------------------------------------------------

_HEADERS = st.sampled_from([
    b"Connection: close", b"Connection: keep-alive", b"X-Gearman-Unique: u",
    b"X-Gearman-Unique: -", b"X-Gearman-Background: true", b"X-Gearman-Priority: high",
    b"X-Gearman-Priority: low", b"Expect: 100-continue", b"X-Other: 1"])
_BAD_HEADERS = st.sampled_from([
    b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip", b"Content-Length: 3",
    b"X: \xff", b"Bad header", b": empty", b"X-Gearman-Unique: " + b"u" * 300])


def _http(method: bytes, target: bytes, version: bytes, headers: list[bytes], body: bytes,
          length: bool) -> bytes:
    return (b"%s %s HTTP/%s\r\n" % (method, target, version)
            + b"".join(h + b"\r\n" for h in headers)
            + (b"Content-Length: %d\r\n" % len(body) if length else b"") + b"\r\n" + body)


#: Mostly requests this module serves, some of them over the size limit.
_GOOD = st.builds(
    _http, st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT"]),
    st.sampled_from([b"/rev", b"//r", b"/f?x=1", b"/" + b"f" * 60]),
    st.sampled_from([b"1.1", b"1.0"]),
    st.lists(_HEADERS, max_size=3).map(lambda h: [b"Host: x"] + h),
    st.one_of(st.binary(max_size=40), st.just(b"b" * 190)), st.just(True))
#: Requests this module refuses, or that llhttp does.
_ODD = st.builds(
    _http, st.sampled_from([b"GET", b"POST", b"DELETE", b"TRACE", b"get"]),
    st.sampled_from([b"/rev", b"/", b"*", b"/a b"]),
    st.sampled_from([b"1.1", b"1.0", b"2.0", b"0.9", b"x"]),
    st.lists(st.one_of(_HEADERS, _BAD_HEADERS), max_size=3).map(lambda h: [b"Host: x"] + h),
    st.binary(max_size=40), st.booleans())
_UNIT = st.one_of(
    _GOOD, _ODD,
    st.tuples(_GOOD, st.integers(0, 10 ** 6), st.integers(0, 7)).map(
        lambda t: t[0][:t[1] % len(t[0])] + bytes([t[0][t[1] % len(t[0])] ^ (1 << t[2])])
        + t[0][t[1] % len(t[0]) + 1:]),
    st.sampled_from([b"\r\n", b"3\r\nabc\r\n0\r\n\r\n", b"0\r\n\r\n"]),
    st.binary(max_size=40))
#: A pipeline of requests served, then anything.
STREAMS = st.tuples(st.lists(_GOOD, max_size=6), st.lists(_UNIT, max_size=4)).map(
    lambda t: b"".join(t[0] + t[1]))
#: Statuses after which nothing more is read.
CLOSING_STATUSES = {b"HTTP_400", b"HTTP_413", b"HTTP_431", b"HTTP_501", b"HTTP_505"}


def _status_only(event: object) -> object:
    return event.code if isinstance(event, Rejected) else event


#: The event that asks the core for the ECHO_RES that becomes a 100 Continue.
ECHO = (T.ECHO_REQ, (b"100-continue",))


def _decode(chunks: list[bytes]) -> tuple[list, list, HttpRequests, HttpResponses]:
    """All the events (echoes included), the records, and both sides."""
    incoming, outgoing = http_protocol(max_packet_size=200)
    events = []
    for chunk in chunks:
        events += incoming.feed(chunk)
    return events, list(outgoing._records), incoming, outgoing


@given(STREAMS.flatmap(lambda s: st.tuples(st.just(s), chunked(s))), st.randoms())
@settings(max_examples=300)
def test_any_bytes_cut_anywhere_become_well_formed_events_and_valid_http(stream_chunks,
                                                                          rng) -> None:
    stream, chunks = stream_chunks
    whole, _, _, _ = _decode([stream])
    every, records, incoming, outgoing = _decode(chunks)
    # An echo comes only where a piece of input ended inside an Expect: 100-continue body.
    events = [event for event in every if event != ECHO]
    whole = [event for event in whole if event != ECHO]
    # llhttp's reason for a bad request can depend on how much it had seen; its status does not.
    assert list(map(_status_only, events)) == list(map(_status_only, whole))
    assert len(records) == len(events)
    for n, event in enumerate(events):
        if event.__class__ is tuple:
            ptype, args = event
            assert ptype in SUBMIT_TYPES and len(args) == 3
            assert all(isinstance(a, bytes) for a in args) and args[0]
            assert len(b"\0".join(args)) <= 200
        else:
            assert isinstance(event, Rejected) and event.code[:5] == b"HTTP_"
            assert event.code[5:] in (b"400", b"404", b"405", b"413", b"431", b"501", b"505")
            if event.code in CLOSING_STATUSES:
                assert n == len(events) - 1 and incoming.dead
    # Answer as the core would, finishing the foreground jobs in any order: every request gets
    # one valid response, in order, until the one that ends the connection.
    answers, results = [], []
    numbered = iter(enumerate(zip(events, records)))
    for event in every:
        if event == ECHO:
            answers.append(encode(T.ECHO_RES, b"100-continue"))
            continue
        n, (event, record) = next(numbered)
        if event.__class__ is tuple:
            handle = b"H:x:%d" % n
            answers.append(job_created(handle))
            if not record.background:
                results.append(complete(handle, b"r%d" % n))
        else:
            answers.append(encode(T.ERROR, event.code, event.text))
    rng.shuffle(results)
    out, close = outgoing.render(b"".join(answers))
    for result in results:
        more, close = outgoing.render(result)
        out += more
    ends = [n for n, r in enumerate(records) if not r.keep_alive]
    answered = records[:ends[0] + 1] if ends else records
    replies = parse(out, [b"HEAD" if r.head else b"GET" for r in answered])
    assert close == bool(ends)
    for n, (event, reply) in enumerate(zip(events, replies)):
        if event.__class__ is tuple:
            assert reply.status == 200
            if not records[n].background and not records[n].head:
                assert reply.body == b"r%d" % n
        else:
            assert reply.status == int(event.code[5:])


# --- Expect: 100-continue ---------------------------------------------------------------------

def test_expect_100_continue_is_answered_before_the_body_comes() -> None:
    incoming, outgoing = http_protocol()
    wire = request(body=b"hello", Expect="100-continue")
    head, body = wire[:-5], wire[-5:]
    assert incoming.feed(head) == [(T.ECHO_REQ, (b"100-continue",))]
    out, close = outgoing.render(encode(T.ECHO_RES, b"100-continue"))
    assert (out, close) == (b"HTTP/1.1 100 Continue\r\n\r\n", False)
    assert incoming.feed(body) == [(T.SUBMIT_JOB, (b"rev", b"-", b"hello"))]
    out, close = outgoing.render(job_created(b"H:x:1") + complete(b"H:x:1", b"olleh"))
    [reply] = parse(out, [b"POST"])
    assert (reply.status, reply.body, close) == (200, b"olleh", False)


@pytest.mark.parametrize("wire", [
    request(body=b"hello", Expect="100-continue"),  # the body came with the head
    request(body=b"hello", version="1.0", Expect="100-continue")[:-5],  # not for HTTP/1.0
    request(body=b"", Expect="100-continue"),  # no body to wait for
], ids=["whole", "http-1.0", "empty"])
def test_no_100_continue_when_no_body_is_awaited(wire: bytes) -> None:
    incoming, _ = http_protocol()
    assert all(event[0] != T.ECHO_REQ for event in incoming.feed(wire))


def test_expect_100_continue_over_the_size_limit_gets_413_and_no_100() -> None:
    incoming, outgoing = http_protocol(max_packet_size=100)
    wire = request(body=b"x" * 200, Expect="100-continue")
    [event] = incoming.feed(wire[:-200])
    assert isinstance(event, Rejected) and event.code == b"HTTP_413"


def test_the_100_waits_behind_an_earlier_unfinished_response() -> None:
    incoming, outgoing = http_protocol()
    first = request(body=b"one")
    second = request(body=b"two", Expect="100-continue")
    events = incoming.feed(first + second[:-3])
    assert events[-1] == (T.ECHO_REQ, (b"100-continue",))
    out, _ = outgoing.render(job_created(b"H:x:1") + encode(T.ECHO_RES, b"100-continue"))
    assert out == b""  # the first response is not out yet
    out, _ = outgoing.render(complete(b"H:x:1", b"eno"))
    assert out.endswith(b"eno" + b"HTTP/1.1 100 Continue\r\n\r\n")
