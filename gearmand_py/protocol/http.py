"""gearmand's HTTP protocol (``-r http``), sans-IO: HTTP/1.x requests in, gear submit events out
(``HttpRequests``); the core's gear replies in, HTTP responses out (``HttpResponses``).

The core speaks gear to every peer, so an HTTP connection looks to it like a gear client that
submits jobs and reads JOB_CREATED, WORK_* and ERROR packets. Everything HTTP lives here.

Rules (one connection, one pair from ``http_protocol``):

- **Who owns what.** ``HttpRequests`` is used only by the connection's I/O thread (it owns the
  h11 parser); ``HttpResponses`` only by the processing thread (it owns the responses not yet
  written). They share one ``collections.deque`` of ``RequestRecord``\ s and nothing else: the
  input side appends one record per event, before it returns the event, so the record is there
  when the core's answer to that event reaches the output side, which pops it (``append`` and
  ``popleft`` are atomic in CPython).
- **One answer per event.** The core answers every event with exactly one JOB_CREATED or ERROR,
  in event order; the output side pops one record per such packet. Every other packet it reads
  names a job handle.
- **Responses in request order.** A response waits until every earlier one is written; only the
  first unwritten response can be streaming.
- **HTTP errors go through the core** as ``Rejected(b"HTTP_<status>", reason)``, so the core's
  ERROR comes back in order with the other answers and becomes that status. ``Rejected``, never
  ``Fatal``, even for errors that end the connection: a ``Fatal`` would make the core close at
  once and lose the responses still owed to earlier pipelined requests; instead the input side
  goes ``dead`` (reads nothing more) and the output side closes after the error response.

Request mapping (gearmand 1.1.20's, ``behaviour.md`` §3.18):

================================  =============================================================
request                           gear event
================================  =============================================================
target ``/FUNC``                  function = the target without its leading slashes, as sent
                                  (no percent-decoding; a query string is part of it)
POST, PUT body                    the workload; GET and HEAD submit an empty one (a body sent
                                  with them is read and dropped)
``X-Gearman-Unique: U``           unique U; default ``-`` (the core keys ``-`` on the data)
``X-Gearman-Background: true``    ``..._BG`` (value case-insensitive, as gearmand)
``X-Gearman-Priority: high|low``  ``SUBMIT_JOB_HIGH`` / ``_LOW`` (case-insensitive); else normal
================================  =============================================================

Response mapping:

=====================  ===================================================================
core sends             response
=====================  ===================================================================
JOB_CREATED            background: 200, ``X-Gearman-Command: JOB_CREATED``, empty body;
                       foreground: remembers the handle (two requests with one unique get one
                       handle and are both answered by its one result)
WORK_DATA              part of the body. The first unwritten response, to an HTTP/1.1 GET,
                       POST or PUT, streams it at once as chunked transfer-coding (200 with
                       ``Trailer: X-Gearman-Command``); any other response collects it
WORK_COMPLETE          200, ``X-Gearman-Command: WORK_COMPLETE``; body = WORK_DATA then result
WORK_FAIL              500, ``X-Gearman-Command: WORK_FAIL``; body = WORK_DATA received so far
WORK_EXCEPTION         as WORK_FAIL (gearmand's header too), the exception text ending the body
WORK_STATUS, _WARNING  ignored: an HTTP client has nowhere to read progress, and the body is
                       only the job's output
ERROR                  ``HTTP_<status>`` (ours): that status; QUEUE_ERROR: 503; ARGUMENT_TOO_
                       LARGE (unique over 64 bytes): 400; any other code: 500. The text is the
                       body (text/plain)
=====================  ===================================================================

Every job response carries ``X-Gearman-Job-Handle``. 500 rather than 502 for a failed job: the
worker did answer, correctly, that the job failed; 502 would claim a broken gateway. Once a
streamed response has sent its head, a failure can only show in the trailer
(``X-Gearman-Command: WORK_FAIL``); the status stays 200.

Status codes from the input side: 400 malformed request (h11's verdict, e.g. an HTTP/1.1
request without Host), 404 no function (``/``), 405 a method other than GET, HEAD, POST, PUT
(gearmand also takes TRACE, and hangs on it; a job is no echo), 413 the job would exceed
``--max-packet-size`` (function + unique + body + 2 NULs, the size a gear client's packet is
held to), 431 a head over ``MAX_HEAD`` bytes (h11; one that arrives whole in the
same ``WINDOW`` is still read), 501 a transfer-coding other than chunked
(h11), 505 an HTTP major version other than 1. 404 and 405 keep the connection; the others
close it after their response.

Versions and keep-alive: the response has the request's version (1.0 or 1.1). HTTP/1.1 keeps
the connection unless a request says ``Connection: close``; HTTP/1.0 only when it says
``Connection: keep-alive`` (and the response says so back). Requests after one that ends the
connection are not read.

Not done: ``Expect: 100-continue`` gets no interim 100 response (the input side does not write,
and the core answers only whole requests), so such a client sends its body after its own
timeout (curl: 1 s). Responses held behind an unfinished earlier one stay in memory
(``HttpResponses.held`` counts them).
"""

from __future__ import annotations

import time
from collections import deque
from email.utils import formatdate
from http import HTTPStatus
from typing import NamedTuple

import h11

from gearmand_py import __version__
from gearmand_py.protocol.codec import DEFAULT_MAX_PACKET_SIZE, ResponseDecoder
from gearmand_py.protocol.events import Event, Rejected
from gearmand_py.protocol.packets import NUMBERS as T

#: The longest incomplete request head (request line and headers) h11 holds before answering 431.
MAX_HEAD = 16 * 1024
#: At most this much input is handed to h11 beyond what the current request's body still needs,
#: so what one request's parser holds back for the next is bounded (see ``HttpRequests``).
WINDOW = 16 * 1024
#: The methods that submit a job; any other gets 405 with this list in ``Allow``.
METHODS = (b"GET", b"HEAD", b"POST", b"PUT")
#: The methods whose body is the workload.
_WITH_WORKLOAD = frozenset((b"POST", b"PUT"))
#: The prefix of the ERROR codes the input side makes up: ``HTTP_404`` becomes status 404.
CODE_PREFIX = b"HTTP_"
#: The core's own ERROR codes that reach an HTTP client, as statuses; any other code is 500.
CORE_ERRORS = {b"QUEUE_ERROR": 503, b"ARGUMENT_TOO_LARGE": 400}
#: The status of a failed job (WORK_FAIL, WORK_EXCEPTION).
FAILED = 500
SERVER = b"gearmand-py/" + __version__.encode()

# (background, priority header) -> submit packet type.
_SUBMIT = {
    (False, b""): T.SUBMIT_JOB, (False, b"high"): T.SUBMIT_JOB_HIGH,
    (False, b"low"): T.SUBMIT_JOB_LOW, (True, b""): T.SUBMIT_JOB_BG,
    (True, b"high"): T.SUBMIT_JOB_HIGH_BG, (True, b"low"): T.SUBMIT_JOB_LOW_BG,
}
#: The packet types ``HttpRequests`` emits.
SUBMIT_TYPES = frozenset(_SUBMIT.values())


class RequestRecord(NamedTuple):
    """What the output side needs to know to answer one request (immutable: it crosses from the
    I/O thread to the processing thread)."""

    #: The response's HTTP version: b"1.0" or b"1.1".
    version: bytes
    #: False: the connection closes after this response.
    keep_alive: bool
    #: A HEAD request: the response has no body.
    head: bool
    #: A background job: answered at JOB_CREATED.
    background: bool


#: The record of input that never made a request head: answered in HTTP/1.1.
_UNPARSED = RequestRecord(b"1.1", False, False, False)


def http_protocol(max_packet_size: int = DEFAULT_MAX_PACKET_SIZE
                  ) -> tuple[HttpRequests, HttpResponses]:
    """The two sides of one HTTP connection, sharing their deque of ``RequestRecord``\ s."""
    records: deque[RequestRecord] = deque()
    return HttpRequests(records, max_packet_size), HttpResponses(records)



def _tokens(value: bytes) -> set[bytes]:
    """A comma-separated header value's tokens, lower-cased."""
    return {token.strip().lower() for token in value.split(b",")}


class _Head(NamedTuple):
    """A parsed request head, waiting for the end of its body."""

    record: RequestRecord
    #: The error it gets, or None: it submits ``ptype`` (function, unique, workload).
    error: Rejected | None
    ptype: int = 0
    function: bytes = b""
    unique: bytes = b""
    #: Whether the body is the workload (POST, PUT) or is dropped.
    workload: bool = False
    #: The body's declared Content-Length (0 if none or chunked).
    declared: int = 0


class HttpRequests:
    """Turns one connection's bytes into submit events and ``Rejected`` HTTP errors, in order.

    h11 parses one request/response cycle per ``h11.Connection`` and then waits for the server's
    response, which here is written by another thread, much later. Rather than drive the parser
    through a dummy response per request, each request gets a fresh ``h11.Connection`` fed the
    previous one's unparsed bytes (``trailing_data``, h11's API for handing a stream on): that
    needs no fake output, and it lets an HTTP/1.0 keep-alive connection go on, which h11 alone
    refuses. So pipelined requests are all parsed ahead and several jobs are in flight at once,
    as from a gear client. Because ``trailing_data`` is a copy, h11 is handed input at most
    ``WINDOW`` bytes beyond the body it is reading: a recv full of tiny requests costs linear
    time, not quadratic.
    """

    __slots__ = ("_records", "_conn", "_started", "_hungry", "_head", "_body", "_size",
                 "max_packet_size", "dead")

    def __init__(self, records: deque[RequestRecord],
                 max_packet_size: int = DEFAULT_MAX_PACKET_SIZE) -> None:
        self._records = records
        self.max_packet_size = max_packet_size
        #: True once nothing more will be parsed: the connection ends after the responses owed.
        self.dead = False
        self._cycle(b"")

    def _cycle(self, rest: bytes) -> None:
        """Start parsing the next request, from the bytes the last one left over."""
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._started = False  # whether the parser has been given a byte yet
        self._hungry = True  # whether it has seen all it was given
        self._head: _Head | None = None
        self._body: list[bytes] = []
        self._size = 0  # body bytes so far
        if rest:
            self._give(rest)

    def _give(self, data: bytes) -> None:
        if not self._started:
            # RFC 9112 2.2: empty lines before a request line are ignored (some clients send
            # CRLF after a POST body); h11 refuses them.
            data = data.lstrip(b"\r\n")
            if not data:
                return
            self._started = True
        self._conn.receive_data(data)
        self._hungry = False

    @property
    def buffered(self) -> int:
        """Bytes held for the request not yet complete: input not parsed yet and the body so far
        (a head already parsed, at most MAX_HEAD bytes, is not counted)."""
        return len(self._conn.trailing_data[0]) + self._size

    def feed(self, data: bytes) -> list[Event]:
        """Add ``data`` and return the events of every request it completes."""
        events: list[Event] = []
        pos = 0
        end = len(data)
        while not self.dead:
            if self._hungry:  # h11 would answer NEED_DATA: not asked
                if pos >= end:
                    break
                step = self._step()
                self._give(data[pos:pos + step])
                pos += step
                continue
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._refuse(events, exc.error_status_hint, str(exc))
                break
            kind = event.__class__
            if event is h11.NEED_DATA:
                self._hungry = True
            elif kind is h11.Data:
                self._size += len(event.data)  # type: ignore[union-attr]
                if self._size > self._limit(self._head):  # type: ignore[arg-type]
                    self._too_large(events)
                else:
                    self._body.append(event.data)  # type: ignore[union-attr]
            elif kind is h11.Request:
                self._parse_head(event, events)  # type: ignore[arg-type]
            elif kind is h11.EndOfMessage:
                self._end(events)
        return events

    def _step(self) -> int:
        """How much input to hand h11 next: the rest of a declared body, else a WINDOW."""
        head = self._head
        return max(WINDOW, head.declared - self._size) if head else WINDOW

    def _limit(self, head: _Head) -> int:
        """The most body bytes a request may have: its job must fit in a gear packet."""
        return self.max_packet_size - len(head.function) - len(head.unique) - 2

    def _parse_head(self, request: h11.Request, events: list[Event]) -> None:
        """What a request submits, or which error it gets once its body is read."""
        fields = {}
        connection: set[bytes] = set()
        # raw_items() is one list; iterating Headers itself costs a call per header.
        for name, value in request.headers.raw_items():
            name = name.lower()
            if name == b"connection":
                connection |= _tokens(value)
            else:
                fields[name] = value
        method = request.method
        if request.http_version[:2] != b"1.":
            self._refuse(events, 505, "only HTTP/1.x is served",
                         RequestRecord(b"1.1", False, method == b"HEAD", False))
            return
        if request.http_version == b"1.0":
            version, keep_alive = b"1.0", b"keep-alive" in connection
        else:
            version, keep_alive = b"1.1", b"close" not in connection
        background = fields.get(b"x-gearman-background", b"").lower() == b"true"
        record = RequestRecord(version, keep_alive, method == b"HEAD", background)
        function = request.target.lstrip(b"/")
        unique = fields.get(b"x-gearman-unique", b"-")
        if method not in METHODS:
            error: Rejected | None = Rejected(CODE_PREFIX + b"405", b"Method not allowed")
        elif not function:
            error = Rejected(CODE_PREFIX + b"404", b"No function: the path names the function")
        else:
            error = None
        priority = fields.get(b"x-gearman-priority", b"").lower()
        declared = fields.get(b"content-length")  # h11 has checked it is a number
        head = _Head(record, error, _SUBMIT.get((background, priority), _SUBMIT[background, b""]),
                     function, unique, method in _WITH_WORKLOAD, int(declared or 0))
        self._head = head
        if head.declared > self._limit(head):
            self._too_large(events)

    def _end(self, events: list[Event]) -> None:
        """A request is complete: emit its event and start on the next one."""
        head: _Head = self._head  # type: ignore[assignment]
        if head.error is not None:
            self._emit(events, head.record, head.error)
        else:
            data = b"".join(self._body) if head.workload else b""
            self._emit(events, head.record, (head.ptype, (head.function, head.unique, data)))
        if head.record.keep_alive:
            self._cycle(self._conn.trailing_data[0])
        else:
            self._die()

    def _too_large(self, events: list[Event]) -> None:
        self._refuse(events, 413, f"the job would exceed --max-packet-size "
                                  f"({self.max_packet_size} bytes)")

    def _refuse(self, events: list[Event], status: int, reason: str,
                record: RequestRecord | None = None) -> None:
        """Answer ``status`` and read nothing more."""
        if record is None:
            record = self._head.record if self._head else _UNPARSED
        self._emit(events, RequestRecord(record.version, False, record.head, False),
                   Rejected(CODE_PREFIX + b"%d" % status, reason.encode("ascii", "replace")))
        self._die()

    def _emit(self, events: list[Event], record: RequestRecord, event: Event) -> None:
        self._records.append(record)  # before the core can see the event
        events.append(event)

    def _die(self) -> None:
        self.dead = True
        self._cycle(b"")  # drops what was buffered


def _date() -> bytes:
    """The ``Date`` header's value, formatted once a second."""
    now = int(time.time())
    if _DATE[0] != now:
        _DATE[:] = [now, formatdate(now, usegmt=True).encode()]
    return _DATE[1]  # type: ignore[return-value]


_DATE: list[int | bytes] = [0, b""]


def _status_line(version: bytes, status: int) -> bytes:
    line = _STATUS_LINES.get((version, status))
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase.encode()
        except ValueError:
            phrase = b"Error"
        line = _STATUS_LINES[version, status] = b"HTTP/%s %d %s\r\n" % (version, status, phrase)
    return line


#: Status lines made so far, by (version, status): a few dozen at most.
_STATUS_LINES: dict[tuple[bytes, int], bytes] = {}


class _Response:
    """One request's response while it is assembled or streamed (processing thread only)."""

    __slots__ = ("request", "handle", "status", "fields", "chunks", "size", "done", "streaming")

    def __init__(self, request: RequestRecord, handle: bytes = b"") -> None:
        self.request = request
        self.handle = handle
        self.status = 200
        #: The head's fields other than the handle and the framing, once the outcome is known.
        self.fields: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []  # body not yet written
        self.size = 0  # of chunks
        self.done = False
        self.streaming = False  # the head is written; the body goes out chunked

    def add(self, data: bytes) -> None:
        if data:
            self.chunks.append(data)
            self.size += len(data)

    def finish(self, status: int, fields: list[tuple[bytes, bytes]], data: bytes = b"") -> None:
        self.status = status
        self.fields = fields
        self.add(data)
        self.done = True

    def _head(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        request = self.request
        lines = [_status_line(request.version, self.status)]
        if self.handle:
            lines.append(b"X-Gearman-Job-Handle: %s\r\n" % self.handle)
        lines.extend(b"%s: %s\r\n" % field for field in fields)
        lines.append(b"Server: %s\r\nDate: %s\r\n" % (SERVER, _date()))
        if not request.keep_alive:
            if request.version != b"1.0":
                lines.append(b"Connection: close\r\n")
        elif request.version == b"1.0":
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def whole(self) -> bytes:
        """The complete response, body included unless it answers HEAD."""
        head = self._head(self.fields + [(b"Content-Length", b"%d" % self.size)])
        if self.request.head:
            return head
        return b"".join([head, *self.chunks])

    def stream(self) -> bytes:
        """What can be sent now of a streamed response: its head the first time, then the
        chunks received since."""
        parts = []
        if not self.streaming:
            self.streaming = True
            parts.append(self._head([(b"Transfer-Encoding", b"chunked"),
                                     (b"Trailer", b"X-Gearman-Command")]))
        for chunk in self.chunks:
            parts += (b"%x\r\n" % len(chunk), chunk, b"\r\n")
        self.chunks = []
        self.size = 0
        return b"".join(parts)

    def end(self) -> bytes:
        """The rest of a streamed response: the last chunks, then the trailer with the command
        the head could not know yet (the status stays 200)."""
        trailer = b"".join(b"%s: %s\r\n" % field for field in self.fields
                           if field[0] == b"X-Gearman-Command")
        return self.stream() + b"0\r\n" + trailer + b"\r\n"


class HttpResponses:
    """Turns the gear replies the core sends to one HTTP connection into HTTP responses.

    ``render`` takes whole packets or any part of them (a packet cut across calls, e.g. a
    ``Spread``'s head and data as two calls, is completed by the next call). A large result is
    copied once, into the response.
    """

    __slots__ = ("_records", "_decoder", "_order", "_waiting", "closed")

    def __init__(self, records: deque[RequestRecord]) -> None:
        self._records = records
        # The core's output is trusted: no size limit.
        self._decoder = ResponseDecoder(1 << 62)
        #: Responses not completely written, in request order.
        self._order: deque[_Response] = deque()
        #: Foreground responses waiting for their job's result, by handle.
        self._waiting: dict[bytes, list[_Response]] = {}
        #: True once the response that ends the connection is out: nothing more is written.
        self.closed = False

    @property
    def held(self) -> int:
        """Body bytes held for responses not yet written (behind an unfinished earlier one)."""
        return sum(response.size for response in self._order)

    def render(self, out: bytes | bytearray | memoryview) -> tuple[bytes, bool]:
        """The HTTP bytes to write for the core's reply bytes ``out``, and whether the
        connection must close after them."""
        if self.closed:
            return b"", True
        if out.__class__ is memoryview:
            out = bytes(out)  # the decoder splits fields with bytes methods
        for event in self._decoder.feed(out):  # type: ignore[arg-type]
            if event.__class__ is not tuple:
                raise ValueError(f"the core sent what is not a response packet: {event!r}")
            self._packet(*event)  # type: ignore[misc]
        return self._written(), self.closed

    def _packet(self, ptype: int, args: tuple[bytes, ...]) -> None:
        if ptype == T.JOB_CREATED:
            response = _Response(self._records.popleft(), args[0])
            self._order.append(response)
            if response.request.background:
                response.finish(200, [(b"X-Gearman-Command", b"JOB_CREATED")])
            else:
                self._waiting.setdefault(args[0], []).append(response)
        elif ptype == T.ERROR:
            response = _Response(self._records.popleft())
            self._order.append(response)
            _error(response, args[0], args[1])
        elif ptype == T.WORK_DATA:
            data = bytes(args[1])
            for response in self._waiting.get(args[0], ()):
                response.add(data)
        elif ptype in _RESULTS:
            status, command = _RESULTS[ptype]
            data = bytes(args[1]) if len(args) > 1 else b""
            for response in self._waiting.pop(args[0], ()):
                response.finish(status, [(b"X-Gearman-Command", command)], data)
        # WORK_STATUS, WORK_WARNING: ignored, see the module's rules.

    def _written(self) -> bytes:
        """Everything that can go out now, in request order."""
        parts = []
        order = self._order
        while order:
            response = order[0]
            if not response.done:
                request = response.request
                if response.chunks and request.version == b"1.1" and not request.head:
                    parts.append(response.stream())
                break
            parts.append(response.end() if response.streaming else response.whole())
            order.popleft()
            if not response.request.keep_alive:
                self.closed = True
                order.clear()
                self._waiting.clear()
                break
        return b"".join(parts)


#: The packets that end a foreground job: its status and ``X-Gearman-Command``.
_RESULTS = {
    T.WORK_COMPLETE: (200, b"WORK_COMPLETE"),
    T.WORK_FAIL: (FAILED, b"WORK_FAIL"),
    T.WORK_EXCEPTION: (FAILED, b"WORK_FAIL"),
}


def _error(response: _Response, code: bytes, text: bytes) -> None:
    """Finish ``response`` for an ERROR packet: ours name their status, the core's are mapped."""
    number = code[len(CODE_PREFIX):]
    if code.startswith(CODE_PREFIX) and number.isdigit():
        status = int(number)
    else:
        status = CORE_ERRORS.get(code, 500)
    fields = [(b"Content-Type", b"text/plain")]
    if status == 405:
        fields.append((b"Allow", b", ".join(METHODS)))
    response.finish(status, fields, text + b"\n")
