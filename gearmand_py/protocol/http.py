r"""gearmand's HTTP protocol (``-r http``), sans-IO: HTTP/1.x requests in, gear submit events out
(``HttpRequests``); the core's gear replies in, HTTP responses out (``HttpResponses``).

The core speaks gear to every peer, so an HTTP connection looks to it like a gear client that
submits jobs and reads JOB_CREATED, WORK_* and ERROR packets. Everything HTTP lives here.

Rules (one connection, one pair from ``http_protocol``):

- **Who owns what.** ``HttpRequests`` is used only by the connection's I/O thread (it owns the
  httptools parser); ``HttpResponses`` only by the processing thread (it owns the responses not yet
  written). They share one ``collections.deque`` of ``RequestRecord``\ s and nothing else: the
  input side appends one record per event, before it returns the event, so the record is there
  when the core's answer to that event reaches the output side, which pops it (``append`` and
  ``popleft`` are atomic in CPython).
- **One answer per event.** The core answers every event with exactly one JOB_CREATED or ERROR,
  in event order; the output side pops one record per such packet. Every other packet it reads
  names a job handle, but for the ECHO_RES of the ``Expect: 100-continue`` echo (below), which
  has no record.
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

Parsing: httptools, the binding of llhttp (Node.js's C parser) that uvicorn uses. It replaced
h11, pure Python, whose ~100 us a request was most of the server's time per HTTP request (about
10 us with llhttp). llhttp checks the syntax; what it does not check is done here: Host on
HTTP/1.1, the transfer-codings served, the versions, the sizes.

Every job response carries ``X-Gearman-Job-Handle``. 500 rather than 502 for a failed job: the
worker did answer, correctly, that the job failed; 502 would claim a broken gateway. Once a
streamed response has sent its head, a failure can only show in the trailer
(``X-Gearman-Command: WORK_FAIL``); the status stays 200.

Status codes from the input side: 400 malformed request (llhttp's verdict, e.g. a method that
is not an upper-case registered one such as ``get``; and an HTTP/1.1 request without exactly
one Host), 404 no function (``/``), 405 a method other than GET, HEAD, POST, PUT (gearmand also takes
TRACE, and hangs on it; a job is no echo), 413 the job would exceed ``--max-packet-size``
(function + unique + body + 2 NULs, the size a gear client's packet is held to; answered as soon
as Content-Length says so), 431 a head still unfinished ``MAX_HEAD`` bytes after the piece of
input (one recv, at most ``WINDOW`` bytes) it began in, 501 a transfer-coding other than chunked
alone, 505 an HTTP major version other than 1 (HTTP/1.x with x > 1 is served as 1.1). 404 and
405 keep the connection; the others close it after their response.

Versions and keep-alive: the response has the request's version (1.0 or 1.1). HTTP/1.1 keeps
the connection unless a request says ``Connection: close``; HTTP/1.0 only when it says
``Connection: keep-alive`` (and the response says so back). Requests after one that ends the
connection are not read. A request to switch protocols (``CONNECT``, or ``Connection: upgrade``
with ``Upgrade``) is answered and ends the connection: nothing is switched, and llhttp does not
read such a request's body. Trailers of a chunked body are read and dropped.

``Expect: 100-continue`` (HTTP/1.1): when a piece of input ends inside the body of such a
request, the input side emits an ECHO_REQ; the core answers it in order, like any event, and
the output side turns its ECHO_RES into the interim ``HTTP/1.1 100 Continue``, sent once every
earlier response is out. The client then sends its body at once instead of after its own
timeout (curl: 1 s). A request whose head already says it will fail (413 by Content-Length)
gets its final response instead; other errors (404, 405) follow the 100, as RFC 9110 allows.

Responses held behind an unfinished earlier one stay in memory; ``HttpResponses.held`` counts
their bytes, and the server adds it to the peer's unsent output for its back-pressure mark
(``server.processor``), so their workers wait instead of the server holding every result.
"""

from __future__ import annotations

import time
from collections import deque
from email.utils import formatdate
from http import HTTPStatus
from typing import NamedTuple

import httptools

from gearmand_py import __version__
from gearmand_py.protocol.codec import DEFAULT_MAX_PACKET_SIZE, ResponseDecoder
from gearmand_py.protocol.events import Event, Rejected
from gearmand_py.protocol.packets import NUMBERS as T

#: How far an unfinished request head (request line and headers) may run past the piece of
#: input it began in before it gets 431.
MAX_HEAD = 16 * 1024
#: The largest piece of input handed to llhttp at once: an unfinished head is counted in pieces,
#: so it is held to at most MAX_HEAD + WINDOW bytes (see ``HttpRequests``).
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
    r"""The two sides of one HTTP connection, sharing their deque of ``RequestRecord``\ s."""
    records: deque[RequestRecord] = deque()
    return HttpRequests(records, max_packet_size), HttpResponses(records)



class _Stop(Exception):
    """Raised from a parser callback once nothing more is read: llhttp stops where it is."""


#: The request headers ``HttpRequests`` keeps (lower-cased); any other is dropped as it arrives.
_KEPT = frozenset((b"x-gearman-unique", b"x-gearman-background", b"x-gearman-priority",
                   b"content-length", b"transfer-encoding", b"expect"))
#: What the ``Expect: 100-continue`` echo carries, and its answer.
CONTINUE_ECHO = b"100-continue"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


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


class HttpRequests:
    """Turns one connection's bytes into submit events and ``Rejected`` HTTP errors, in order.

    httptools (llhttp, Node.js's C parser) parses the stream through callbacks and, unlike a
    parser of one request/response cycle, goes on to the next request by itself: pipelined
    requests are all parsed ahead and several jobs are in flight at once, as from a gear client.
    llhttp holds no input: what is held is the body so far and the head's fields, kept only if
    this module reads them. A callback that ends the connection raises ``_Stop``, which stops
    llhttp at once. Input is handed on in pieces of at most ``WINDOW`` bytes, so an unfinished
    head is measured in whole pieces (llhttp tells no offsets) and no piece is copied.
    """

    __slots__ = ("_records", "_parser", "_events", "_target", "_fields", "_hosts", "_head",
                 "_body", "_size", "_begun", "_seen", "_expecting", "max_packet_size", "dead")

    def __init__(self, records: deque[RequestRecord],
                 max_packet_size: int = DEFAULT_MAX_PACKET_SIZE) -> None:
        self._records = records
        self.max_packet_size = max_packet_size
        #: True once nothing more will be parsed: the connection ends after the responses owed.
        self.dead = False
        self._parser = httptools.HttpRequestParser(self)
        # Any digit.digit version: the ones not served get 505 here, not llhttp's 400. Lines
        # ended by a bare LF, as gearmand and h11 take them (RFC 9112 2.2 allows it): llhttp
        # needs both flags for the request line, where the second also takes a bare CR; a
        # header line still needs its LF.
        self._parser.set_dangerous_leniencies(lenient_version=True,
                                              lenient_optional_cr_before_lf=True,
                                              lenient_optional_lf_after_cr=True)
        self._events: list[Event] = []  # those of the current ``feed``
        self._head: _Head | None = None
        self._fresh()
        #: Inside a head (or a chunk-size line or the trailers of a chunked body): its bytes
        #: counted in pieces after the one it began in (see ``_count``); else -1.
        self._seen = -1
        self._begun = False  # a head began in the current piece

    def _fresh(self) -> None:
        """Forget the last request's head and body."""
        self._target = b""
        self._fields: dict[bytes, bytes] = {}  # the _KEPT headers
        self._hosts = 0
        self._body: list[bytes] = []
        self._size = 0  # body bytes so far
        #: The request being read sent ``Expect: 100-continue`` and has had no 100 yet.
        self._expecting = False

    @property
    def buffered(self) -> int:
        """Body bytes held for the request not yet complete (llhttp holds no input, and a head
        in progress is bounded by ``MAX_HEAD``)."""
        return self._size

    def feed(self, data: bytes) -> list[Event]:
        """Add ``data`` and return the events of every request it completes."""
        if self.dead:
            return []
        events = self._events = []
        view = memoryview(data)
        try:
            for pos in range(0, len(data), WINDOW):
                piece = view[pos:pos + WINDOW]
                self._parser.feed_data(piece)
                if self._seen >= 0:
                    self._count(len(piece))
                    if self.dead:
                        break
        except httptools.HttpParserCallbackError:
            if not self.dead:  # a callback failed: a bug, not the client's
                raise
        except httptools.HttpParserError as exc:
            self._refuse(400, str(exc))
        if self._expecting and not self.dead:  # the input ended inside its body
            self._expecting = False
            events.append((T.ECHO_REQ, (CONTINUE_ECHO,)))
        return events

    def _count(self, size: int) -> None:
        """A piece ended inside a head: 431 once the pieces after the one it began in reach
        ``MAX_HEAD``, so a head of up to MAX_HEAD bytes is always read, and none is held
        beyond MAX_HEAD + WINDOW."""
        if self._begun:
            self._begun = False
        else:
            self._seen += size
            if self._seen >= MAX_HEAD:
                self._refuse(431, f"request head or trailers over {MAX_HEAD} bytes")

    # --- llhttp's callbacks ---

    def on_message_begin(self) -> None:
        self._seen = 0
        self._begun = True

    def on_url(self, url: bytes) -> None:
        self._target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in _KEPT:
            if self._head is not None:  # a trailer of a chunked body
                return
            if name == b"transfer-encoding" and name in self._fields:
                value = self._fields[name] + b"," + value
            self._fields[name] = value
        elif name == b"host":
            self._hosts += 1

    def on_headers_complete(self) -> None:
        """What a request submits, or which error it gets once its body is read."""
        self._seen = -1
        parser = self._parser
        method = parser.get_method()
        version = parser.get_http_version()
        fields = self._fields
        if version[:2] != "1.":
            self._stop(505, "only HTTP/1.x is served",
                       RequestRecord(b"1.1", False, method == b"HEAD", False))
        coding = fields.get(b"transfer-encoding")
        if coding is not None and coding.strip().lower() != b"chunked":
            self._stop(501, "only the chunked transfer-coding is served")
        if self._hosts != 1 and (self._hosts or version != "1.0"):
            self._stop(400, "an HTTP/1.1 request needs one Host header")
        background = fields.get(b"x-gearman-background", b"").lower() == b"true"
        # llhttp's keep-alive rule is this module's: HTTP/1.1 unless "Connection: close",
        # HTTP/1.0 only with "Connection: keep-alive". It does not switch protocols, so a
        # request to (CONNECT, Upgrade) ends the connection: llhttp would skip its body.
        record = RequestRecord(b"1.0" if version == "1.0" else b"1.1",
                               parser.should_keep_alive() and not parser.should_upgrade(),
                               method == b"HEAD", background)
        function = self._target.lstrip(b"/")
        unique = fields.get(b"x-gearman-unique", b"-")
        if method not in METHODS:
            error: Rejected | None = Rejected(CODE_PREFIX + b"405", b"Method not allowed")
        elif not function:
            error = Rejected(CODE_PREFIX + b"404", b"No function: the path names the function")
        else:
            error = None
        priority = fields.get(b"x-gearman-priority", b"").lower()
        head = self._head = _Head(
            record, error, _SUBMIT.get((background, priority), _SUBMIT[background, b""]),
            function, unique, method in _WITH_WORKLOAD)
        declared = fields.get(b"content-length")  # llhttp has checked it is a number
        if declared is not None and int(declared) > self._limit(head):
            self._too_large()
        self._expecting = (version == "1.1" and fields.get(b"expect", b"").lower()
                           == CONTINUE_ECHO and (coding is not None or declared not in
                                                 (None, b"0")))

    def on_chunk_header(self) -> None:
        """A chunk's size line is read: next come its data, or the trailers if it is the last;
        trailers are held as a head is (by httptools, until each is complete)."""
        self._seen = 0
        self._begun = True

    def on_body(self, data: bytes) -> None:
        self._seen = -1
        self._size += len(data)
        if self._size > self._limit(self._head):  # type: ignore[arg-type]
            self._too_large()
        self._body.append(data)

    def on_message_complete(self) -> None:
        """A request is complete: emit its event; the next one may follow."""
        head: _Head = self._head  # type: ignore[assignment]
        self._head = None
        self._seen = -1
        self._expecting = False  # the body is all here: no need to ask for it
        if head.error is not None:
            self._emit(head.record, head.error)
        else:
            data = b"".join(self._body) if head.workload else b""
            self._emit(head.record, (head.ptype, (head.function, head.unique, data)))
        self._fresh()
        if not head.record.keep_alive:
            self._die()
            raise _Stop

    # --- helpers ---

    def _limit(self, head: _Head) -> int:
        """The most body bytes a request may have: its job must fit in a gear packet."""
        return self.max_packet_size - len(head.function) - len(head.unique) - 2

    def _too_large(self) -> None:
        self._stop(413, f"the job would exceed --max-packet-size ({self.max_packet_size} bytes)")

    def _stop(self, status: int, reason: str, record: RequestRecord | None = None) -> None:
        """From a callback: answer ``status`` and stop llhttp."""
        self._refuse(status, reason, record)
        raise _Stop

    def _refuse(self, status: int, reason: str, record: RequestRecord | None = None) -> None:
        """Answer ``status`` and read nothing more."""
        if record is None:
            record = self._head.record if self._head else _UNPARSED
        self._emit(RequestRecord(record.version, False, record.head, False),
                   Rejected(CODE_PREFIX + b"%d" % status, reason.encode("ascii", "replace")))
        self._die()

    def _emit(self, record: RequestRecord, event: Event) -> None:
        self._records.append(record)  # before the core can see the event
        self._events.append(event)

    def _die(self) -> None:
        """Read nothing more, and drop what is held."""
        self.dead = True
        self._fresh()


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

    __slots__ = ("request", "owner", "handle", "status", "fields", "chunks", "size", "done",
                 "streaming")

    def __init__(self, request: RequestRecord, owner: HttpResponses, handle: bytes = b"") -> None:
        self.request = request
        #: Whose ``held`` counts this response's body.
        self.owner = owner
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
            self.owner.held += len(data)

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
        self.owner.held -= self.size
        self.size = 0
        return b"".join(parts)

    def end(self) -> bytes:
        """The rest of a streamed response: the last chunks, then the trailer with the command
        the head could not know yet (the status stays 200)."""
        trailer = b"".join(b"%s: %s\r\n" % field for field in self.fields
                           if field[0] == b"X-Gearman-Command")
        return self.stream() + b"0\r\n" + trailer + b"\r\n"


class _Continue:
    """The interim 100 response, in ``HttpResponses``' order like a finished response."""

    __slots__ = ()
    done = True
    streaming = False
    size = 0
    request = RequestRecord(b"1.1", True, False, False)

    @staticmethod
    def whole() -> bytes:
        return CONTINUE


_CONTINUE = _Continue()


class HttpResponses:
    """Turns the gear replies the core sends to one HTTP connection into HTTP responses.

    ``render`` takes whole packets or any part of them (a packet cut across calls, e.g. a
    ``Spread``'s head and data as two calls, is completed by the next call). A large result is
    copied once, into the response.
    """

    __slots__ = ("_records", "_decoder", "_order", "_waiting", "closed", "held")

    def __init__(self, records: deque[RequestRecord]) -> None:
        self._records = records
        # The core's output is trusted: no size limit.
        self._decoder = ResponseDecoder(1 << 62)
        #: Responses not completely written, in request order.
        self._order: deque[_Response | _Continue] = deque()
        #: Foreground responses waiting for their job's result, by handle.
        self._waiting: dict[bytes, list[_Response]] = {}
        #: True once the response that ends the connection is out: nothing more is written.
        self.closed = False
        #: Body bytes held for responses not yet written (kept up to date by ``_Response``): the
        #: server counts them against its back-pressure mark like unsent output.
        self.held = 0

    def render(self, out: bytes | bytearray | memoryview) -> tuple[bytes, bool]:
        """The HTTP bytes to write for the core's reply bytes ``out``, and whether the
        connection must close after them."""
        if self.closed:
            return b"", True
        if type(out) is not bytes:
            out = bytes(out)  # the decoder takes what recv returns
        for event in self._decoder.feed(out):
            if event.__class__ is not tuple:
                raise ValueError(f"the core sent what is not a response packet: {event!r}")
            self._packet(*event)  # type: ignore[misc]
        return self._written(), self.closed

    def _packet(self, ptype: int, args: tuple[bytes, ...]) -> None:
        if ptype == T.JOB_CREATED:
            response = _Response(self._records.popleft(), self, args[0])
            self._order.append(response)
            if response.request.background:
                response.finish(200, [(b"X-Gearman-Command", b"JOB_CREATED")])
            else:
                self._waiting.setdefault(args[0], []).append(response)
        elif ptype == T.ERROR:
            response = _Response(self._records.popleft(), self)
            self._order.append(response)
            _error(response, args[0], args[1])
        elif ptype == T.ECHO_RES:
            self._order.append(_CONTINUE)
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
            self.held -= response.size
            order.popleft()
            if not response.request.keep_alive:
                self.closed = True
                order.clear()
                self._waiting.clear()
                self.held = 0
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
