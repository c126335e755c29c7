"""Run a scenario against one server and record what its clients see.

A scenario is a function taking a :class:`Session`.  It opens named connections
(``s.conn("worker1")``), sends packets or admin lines, and records every reply through the
session's helpers (``s.recv``, ``s.request``, ``s.nothing``, ``s.closed``, ``s.admin_line``,
``s.admin_list``, ...).  The transcript is a list of ``(connection, label, observation)`` entries.

When a session is given the reference transcript (``expected``) it compares each entry as it is
recorded and stops at the first divergence, so a wrong or missing reply fails fast with a readable
diff instead of a chain of timeouts.

Only what must differ between gearmand and gearmand-py is normalised: the ``version`` reply, the
``getpid`` number, the FD column and line order of ``workers``, the row order of ``status``,
``prioritystatus``, ``show jobs`` and ``show unique jobs`` (gearmand lists those in hash order,
gearmand-py in creation order), and the text after ``ERR there are still`` of a refused
``drop function`` (gearmand-py names what holds the function).

A scenario may ask for extra server options (``@with_args("-j", "2")``); both servers get them.
"""

from __future__ import annotations

import pprint
import re
import time
from typing import Any, Callable

from tests.support.servers import ServerProcess, start_server

from tests.support.wire import REQ, Conn, ConnectionClosed, Packet

Entry = tuple[str, str, Any]
Scenario = Callable[["Session"], None]

REPLY_TIMEOUT = 2.0     # how long to wait for a reply that must come
NOTHING_TIMEOUT = 0.25  # how long "nothing arrives" is watched
SETTLE = 0.3            # time given to the server to process a disconnect nobody is told about


class Divergence(AssertionError):
    """The candidate server's transcript differs from the reference's."""


def describe(packet: Packet) -> tuple[str, str, tuple[bytes, ...]]:
    """A packet as a plain, comparable tuple: (magic, type name, fields)."""
    magic = {b"\0RES": "RES", b"\0REQ": "REQ"}.get(packet.magic, repr(packet.magic))
    return (magic, packet.name, packet.args)


def normalise_version(line: bytes) -> bytes:
    """``OK <anything>\\n`` → ``OK <version>\\n``; any other shape is kept so it shows up."""
    return b"OK <version>\n" if re.fullmatch(rb"OK [^\r\n]+\n", line) else line


def normalise_getpid(line: bytes, pid: int) -> bytes:
    """``OK <pid>\\n`` → ``OK <pid>\\n`` when the number is the server's process id."""
    m = re.fullmatch(rb"OK (\d+)\n", line)
    return b"OK <pid>\n" if m and int(m.group(1)) == pid else line


def normalise_drop_refusal(line: bytes) -> bytes:
    """``ERR there are still <anything>\\r\\n`` → ``ERR there are still <holders>\\r\\n``; any
    other reply is kept."""
    if re.fullmatch(rb"ERR there are still [^\r\n]+\r\n", line):
        return b"ERR there are still <holders>\r\n"
    return line


def normalise_rows(lines: list[bytes]) -> list[bytes]:
    """Sort the rows of a listing; the final ``.\\n`` stays last."""
    body, tail = (lines[:-1], lines[-1:]) if lines and lines[-1] == b".\n" else (lines, [])
    return sorted(body) + tail


#: Admin listings whose row order is hash order in gearmand (the command's words, lower case).
HASH_ORDERED = ((b"status",), (b"prioritystatus",), (b"show", b"jobs"), (b"show", b"unique", b"jobs"))


def hash_ordered(line: str | bytes) -> bool:
    """Whether ``line`` asks for a listing whose row order may differ between the servers."""
    words = tuple((line.encode() if isinstance(line, str) else line).lower().split())
    return words in HASH_ORDERED


def with_args(*args: str) -> Callable[[Scenario], Scenario]:
    """Decorator: run the scenario with these extra options on both servers."""
    def mark(fn: Scenario) -> Scenario:
        fn.server_args = list(args)  # type: ignore[attr-defined]
        return fn
    return mark


def server_args(scenario: Scenario) -> list[str]:
    """The extra server options a scenario asked for (none by default)."""
    return list(getattr(scenario, "server_args", []))


def normalise_workers(lines: list[bytes]) -> list[bytes]:
    """Replace the FD column with ``<fd>`` and sort the connection lines (the final ``.\\n``
    stays last)."""
    body, tail = (lines[:-1], lines[-1:]) if lines and lines[-1] == b".\n" else (lines, [])
    return sorted(re.sub(rb"^\d+ ", b"<fd> ", line) for line in body) + tail


class Session:
    """Named connections to one server plus the transcript of what they received."""

    def __init__(self, server: ServerProcess, expected: list[Entry] | None = None) -> None:
        self.server = server
        self.conns: dict[str, Conn] = {}
        self.transcript: list[Entry] = []
        self.expected = expected

    # -- transcript --------------------------------------------------------------------------
    def record(self, name: str, label: str, observation: Any) -> Any:
        entry = (name, label, observation)
        self.transcript.append(entry)
        if self.expected is not None:
            i = len(self.transcript) - 1
            want = self.expected[i] if i < len(self.expected) else "<no further entry>"
            if want != entry:
                raise Divergence(divergence_report(self.expected, self.transcript))
        return observation

    @property
    def strict(self) -> bool:
        """Reference runs must never time out waiting for a reply: that is a scenario bug."""
        return self.expected is None

    # -- connections -------------------------------------------------------------------------
    def conn(self, name: str, sync: bool = True) -> Conn:
        """The connection called ``name``, opened on first use.  With ``sync`` an unrecorded
        ECHO round trip makes sure the server has registered it (so it shows in ``workers``)."""
        if name not in self.conns:
            c = self.conns[name] = Conn(self.server.address)
            if sync:
                c.send("ECHO_REQ", b"sync")
                self.record(name, "connect", self._receive(c, REPLY_TIMEOUT, "connect"))
        return self.conns[name]

    def close(self, name: str, settle: float = 0.0) -> None:
        """Close ``name``; optionally give the server ``settle`` seconds to notice."""
        self.conns.pop(name).close()
        if settle:
            time.sleep(settle)

    def close_all(self) -> None:
        for c in self.conns.values():
            c.close()
        self.conns.clear()

    # -- binary protocol ---------------------------------------------------------------------
    def send(self, name: str, ptype: int | str, *args: bytes | str | int, magic: bytes = REQ) -> None:
        self.conn(name).send(ptype, *args, magic=magic)

    def send_raw(self, name: str, data: bytes) -> None:
        self.conn(name).send_raw(data)

    def _receive(self, c: Conn, timeout: float, label: str) -> Any:
        try:
            return describe(c.recv_packet(timeout))
        except TimeoutError:
            if self.strict:
                raise AssertionError(f"reference server sent no reply for {label!r}") from None
            return "<timeout>"
        except ConnectionClosed as closed:
            return ("<closed>", closed.data)

    def recv(self, name: str, label: str = "recv", timeout: float = REPLY_TIMEOUT,
             transform: Callable[[Any], Any] | None = None) -> Any:
        """Record the next packet on ``name`` (or ``<timeout>`` / ``("<closed>", pending)``),
        passed through ``transform`` if given (to leave out a field that may differ)."""
        obs = self._receive(self.conn(name), timeout, label)
        return self.record(name, label, transform(obs) if transform else obs)

    def barrier(self, name: str) -> Any:
        """ECHO round trip on ``name``: the server handles a connection's packets in order, so
        once the echo is back everything sent before it on ``name`` has taken effect."""
        self.conn(name).send("ECHO_REQ", b"barrier")
        return self.recv(name, "barrier")

    def request(self, name: str, ptype: int | str, *args: bytes | str | int,
                magic: bytes = REQ, label: str | None = None) -> Any:
        """Send one packet and record the single reply packet."""
        self.send(name, ptype, *args, magic=magic)
        return self.recv(name, label or (ptype if isinstance(ptype, str) else f"type {ptype}"))

    def submit(self, name: str, ptype: str, func: str, unique: str | bytes, data: str | bytes) -> bytes:
        """Send a SUBMIT_JOB* packet, record the reply, and return the handle (b"" if none)."""
        reply = self.request(name, ptype, func, unique, data, label=f"{ptype} {func}")
        if isinstance(reply, tuple) and reply[1] == "JOB_CREATED":
            return reply[2][0]
        return b""

    def nothing(self, name: str, label: str = "nothing", timeout: float = NOTHING_TIMEOUT) -> Any:
        """Record ``"nothing"`` if no byte arrives within ``timeout``, else what did arrive."""
        c = self.conn(name)
        try:
            c.expect_nothing(timeout)
            obs: Any = "nothing"
        except AssertionError:
            obs = ("<closed>" if c.eof else "<unexpected>", c.buf)
            c.buf = b""
        return self.record(name, label, obs)

    def closed(self, name: str, label: str = "closed", timeout: float = REPLY_TIMEOUT) -> Any:
        """Record the bytes received until the server closes ``name`` (or ``<still open>``)."""
        try:
            obs: Any = ("<closed>", self.conn(name).recv_until_closed(timeout))
        except TimeoutError:
            if self.strict:
                raise AssertionError(f"reference server kept {name!r} open") from None
            obs = ("<still open>", self.conn(name).buf)
        return self.record(name, label, obs)

    def poll(self, name: str, ptype: str, *args: bytes | str | int,
             until: Callable[[Any], bool], label: str = "poll", timeout: float = REPLY_TIMEOUT) -> Any:
        """Repeat a request (unrecorded) until ``until(reply)`` holds; record the final reply.
        Used to wait for a state change the server announces to nobody (e.g. a requeue)."""
        c = self.conn(name)
        deadline = time.monotonic() + timeout
        while True:
            c.send(ptype, *args)
            reply = self._receive(c, REPLY_TIMEOUT, label)
            if until(reply) or time.monotonic() > deadline:
                return self.record(name, label, reply)
            time.sleep(0.01)

    # -- admin text protocol -----------------------------------------------------------------
    def _line(self, c: Conn, label: str) -> Any:
        try:
            return c.recv_line(REPLY_TIMEOUT)
        except TimeoutError:
            if self.strict:
                raise AssertionError(f"reference server sent no line for {label!r}") from None
            return ("<timeout>", c.buf)
        except ConnectionClosed as closed:
            return ("<closed>", closed.data)

    def admin_line(self, name: str, line: str | bytes, ending: bytes = b"\r\n",
                   normalise: Callable[[bytes], bytes] | None = None) -> Any:
        """Send an admin command and record its one-line reply (exact bytes, or ``normalise``d)."""
        c = self.conn(name)
        c.send_line(line, ending)
        got = self._line(c, repr(line))
        if normalise is not None and isinstance(got, bytes):
            got = normalise(got)
        return self.record(name, f"admin {line!r}", got)

    def drop_function(self, name: str, line: str) -> Any:
        """A ``drop function`` line, a refusal's reason normalised."""
        return self.admin_line(name, line, normalise=normalise_drop_refusal)

    def _list(self, name: str, line: str | bytes, ending: bytes) -> Any:
        c = self.conn(name)
        c.send_line(line, ending)
        return self._read_list(c, repr(line))

    def _read_list(self, c: Conn, label: str) -> list[Any]:
        lines: list[Any] = []
        while True:
            got = self._line(c, label)
            lines.append(got)
            if got == b".\n" or not isinstance(got, bytes):
                return lines

    def read_line(self, name: str, label: str) -> Any:
        """Record the next text line on ``name`` without sending anything."""
        return self.record(name, label, self._line(self.conn(name), label))

    def read_list(self, name: str, label: str) -> Any:
        """Record the next admin list on ``name`` without sending anything."""
        return self.record(name, label, self._read_list(self.conn(name), label))

    def admin_list(self, name: str, line: str | bytes, ending: bytes = b"\r\n") -> Any:
        """Send an admin list command (``status``, ``workers``, ...) and record all its lines;
        the rows of the hash-ordered listings are sorted."""
        lines = self._list(name, line, ending)
        if hash_ordered(line) and lines and lines[-1] == b".\n":
            lines = normalise_rows(lines)
        return self.record(name, f"admin {line!r}", lines)

    def workers(self, name: str) -> Any:
        """``workers`` with the FD column normalised and the lines sorted."""
        lines = self._list(name, "workers", b"\r\n")
        if all(isinstance(x, bytes) for x in lines):
            lines = normalise_workers(lines)
        return self.record(name, "admin 'workers'", lines)

    def version(self, name: str, line: str = "version") -> Any:
        c = self.conn(name)
        c.send_line(line)
        got = self._line(c, line)
        return self.record(name, f"admin {line!r}", normalise_version(got) if isinstance(got, bytes) else got)

    def getpid(self, name: str) -> Any:
        c = self.conn(name)
        c.send_line("getpid")
        got = self._line(c, "getpid")
        return self.record(name, "admin 'getpid'",
                           normalise_getpid(got, self.server.proc.pid) if isinstance(got, bytes) else got)


def divergence_report(expected: list[Entry], actual: list[Entry]) -> str:
    """Where two transcripts part, with the shared prefix for context."""
    i = next((k for k, (a, b) in enumerate(zip(expected, actual)) if a != b),
             min(len(expected), len(actual)))
    fmt = pprint.pformat
    lines = ["transcripts differ at entry %d" % i]
    for k in range(max(0, i - 6), i):
        lines.append(f"  same   [{k}] {fmt(expected[k], width=200)}")
    lines.append(f"  gearmand  [{i}] {fmt(expected[i], width=200) if i < len(expected) else '<end>'}")
    lines.append(f"  candidate [{i}] {fmt(actual[i], width=200) if i < len(actual) else '<end>'}")
    return "\n".join(lines)


def run_scenario(scenario: Scenario, kind: str, args: list[str],
                 expected: list[Entry] | None = None) -> list[Entry]:
    """Start a fresh ``kind`` server with ``args``, run ``scenario`` on it and return the
    transcript.  A last entry records whether the server survived."""
    server = start_server(kind, args)
    session = Session(server, expected)
    try:
        scenario(session)
        session.close_all()
        session.record("server", "still running", server.proc.poll() is None)
        if expected is not None and len(session.transcript) != len(expected):
            raise Divergence(divergence_report(expected, session.transcript))
        return session.transcript
    except Divergence as exc:
        log = server.log()[-3000:]
        raise Divergence(f"{exc}\n--- {kind} {' '.join(args)} log tail ---\n{log}") from None
    finally:
        session.close_all()
        server.stop()
