"""gearmand-py's deliberate differences from gearmand 1.1.20, and its signal handling.

These run against gearmand-py only (the differential suite leaves them out on purpose): each
test states what gearmand-py does where 1.1.20 does something else (reference §3.4, §3.8,
§3.12, §3.14, §2.2, Appendix A "Don't replicate"), and how the process reacts to SIGUSR1,
SIGTERM/SIGINT, SIGHUP and the admin ``shutdown`` command (reference §3.19).
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from gearmand_py.core.admin import Admin, ServerInfo, is_loopback
from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.core.model import Peer
from tests.support.wire import Conn
from tests.support.servers import ServerProcess, start_server

THREADS = [pytest.param("4", id="t4"), pytest.param("0", id="t0")]
SETTLE = 0.3
NOT_FOUND = ("ERROR", (b"JOB_NOT_FOUND", b"Job given in work result not found"))
BUSY = b"ERR there are still queued jobs\r\n"


# --- helpers -------------------------------------------------------------------------------------

@contextmanager
def gearmand_py(threads: str, *args: str) -> Iterator[ServerProcess]:
    server = start_server("gearmand-py", ["-t", threads, *args])
    try:
        yield server
    finally:
        server.stop()


def packet(c: Conn, timeout: float = 2.0) -> tuple[str, tuple[bytes, ...]]:
    p = c.recv_packet(timeout)
    assert p.magic == b"\0RES", p
    return p.name, p.args


def request(c: Conn, ptype: str, *args: bytes | str | int) -> tuple[str, tuple[bytes, ...]]:
    c.send(ptype, *args)
    return packet(c)


def sync(c: Conn) -> None:
    """ECHO round trip: everything sent before on ``c`` has been processed."""
    assert request(c, "ECHO_REQ", b"sync") == ("ECHO_RES", (b"sync",))


def submit(c: Conn, ptype: str, function: str, unique: str | bytes, data: str) -> bytes:
    name, args = request(c, ptype, function, unique, data)
    assert name == "JOB_CREATED", (name, args)
    return args[0]


def worker(server: ServerProcess, *functions: str, timeout: int | None = None) -> Conn:
    w = Conn(server.address)
    for f in functions:
        if timeout is None:
            w.send("CAN_DO", f)
        else:
            w.send("CAN_DO_TIMEOUT", f, timeout)
    sync(w)
    return w


def admin(c: Conn, line: str | bytes, ending: bytes = b"\r\n") -> bytes:
    c.send_line(line, ending)
    return c.recv_line()


def listing(c: Conn, line: str) -> list[bytes]:
    c.send_line(line)
    return c.recv_list()


def grab_data(w: Conn, count: int) -> list[bytes]:
    """The data of the next ``count`` jobs GRAB_JOB hands ``w``."""
    got = []
    for _ in range(count):
        name, args = request(w, "GRAB_JOB")
        assert name == "JOB_ASSIGN", (name, args)
        got.append(args[2])
    return got


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def refuses_connections(server: ServerProcess) -> bool:
    try:
        socket.create_connection(server.address, timeout=1).close()
    except (ConnectionRefusedError, ConnectionResetError):
        # Reset: the connect raced the listener's close and was in its backlog.
        return True
    return False


def exits(server: ServerProcess, timeout: float = 5.0) -> int:
    return server.proc.wait(timeout)


# --- priority (reference §3.4, §3.6) ----------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS)
def test_priority_is_global_across_a_workers_functions(threads: str) -> None:
    """A HIGH job of any of the worker's functions comes before a NORMAL one, and NORMAL before
    LOW; within a priority the newest CAN_DO's function first.  (1.1.20 drains the newest
    function with any job first: b-high b-normal b-low a-high a-normal a-low.)"""
    with gearmand_py(threads) as server:
        w = worker(server, "a", "b")
        c = Conn(server.address)
        for ptype, function, data in (("SUBMIT_JOB_LOW_BG", "b", "b-low"),
                                      ("SUBMIT_JOB_BG", "b", "b-normal"),
                                      ("SUBMIT_JOB_HIGH_BG", "a", "a-high"),
                                      ("SUBMIT_JOB_BG", "a", "a-normal"),
                                      ("SUBMIT_JOB_LOW_BG", "a", "a-low"),
                                      ("SUBMIT_JOB_HIGH_BG", "b", "b-high")):
            submit(c, ptype, function, "", data)
        assert grab_data(w, 6) == [b"b-high", b"a-high", b"b-normal", b"a-normal", b"b-low",
                                   b"a-low"]
        assert request(w, "GRAB_JOB") == ("NO_JOB", ())


@pytest.mark.parametrize("threads", THREADS)
def test_round_robin_rotates_functions_within_each_priority(threads: str) -> None:
    """-R: priority stays global; within a priority the worker's functions take turns (a
    function moves to the back after a job is taken from it)."""
    with gearmand_py(threads, "-R") as server:
        w = worker(server, "a", "b")
        c = Conn(server.address)
        for ptype, function, data in (("SUBMIT_JOB_LOW_BG", "b", "b-l1"),
                                      ("SUBMIT_JOB_HIGH_BG", "a", "a-h1"),
                                      ("SUBMIT_JOB_HIGH_BG", "a", "a-h2"),
                                      ("SUBMIT_JOB_BG", "a", "a-n1"),
                                      ("SUBMIT_JOB_HIGH_BG", "b", "b-h1"),
                                      ("SUBMIT_JOB_HIGH_BG", "b", "b-h2"),
                                      ("SUBMIT_JOB_BG", "b", "b-n1"),
                                      ("SUBMIT_JOB_BG", "a", "a-n2")):
            submit(c, ptype, function, "", data)
        assert grab_data(w, 8) == [b"b-h1", b"a-h1", b"b-h2", b"a-h2", b"b-n1", b"a-n1",
                                   b"a-n2", b"b-l1"]


# --- epoch jobs (reference §3.14) ---------------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS)
def test_epoch_job_wakes_sleeping_worker_when_due(threads: str) -> None:
    """A sleeping worker is not woken by the submit of a future epoch job, but gets a NOOP when
    the job comes due (not before) and then the job.  (1.1.20 sends the NOOP at once and never
    again: issue #101.)"""
    with gearmand_py(threads) as server:
        w = worker(server, "fn")
        assert request(w, "GRAB_JOB") == ("NO_JOB", ())
        w.send("PRE_SLEEP")
        sync(w)
        c = Conn(server.address)
        when = int(time.time()) + 2
        c.send("SUBMIT_JOB_EPOCH", "fn", "", str(when), "due")
        name, args = packet(c)
        assert name == "JOB_CREATED"
        handle = args[0]
        w.expect_nothing(0.5)
        assert request(c, "GET_STATUS", handle) == ("STATUS_RES", (handle, b"1", b"0", b"0", b"0"))
        assert packet(w, timeout=4.0) == ("NOOP", ())
        assert time.time() >= when - 0.05, "woken before the job was due"
        assert request(w, "GRAB_JOB") == ("JOB_ASSIGN", (handle, b"fn", b"due"))


@pytest.mark.parametrize("threads", THREADS)
def test_future_epoch_job_does_not_hide_runnable_jobs(threads: str) -> None:
    """A LOW (or NORMAL) job queued after a future epoch job of the same function is grabbed at
    once; PRE_SLEEP with only the future job left gets no NOOP.  (1.1.20: GRAB → NO_JOB while
    PRE_SLEEP answers NOOP at once, so workers spin.)"""
    with gearmand_py(threads) as server:
        c = Conn(server.address)
        c.send("SUBMIT_JOB_EPOCH", "fn", "later", str(int(time.time()) + 3600), "later")
        assert packet(c)[0] == "JOB_CREATED"
        submit(c, "SUBMIT_JOB_LOW_BG", "fn", "", "low")
        w = worker(server, "fn")
        assert grab_data(w, 1) == [b"low"]
        submit(c, "SUBMIT_JOB_BG", "fn", "", "normal")
        assert grab_data(w, 1) == [b"normal"]
        assert request(w, "GRAB_JOB") == ("NO_JOB", ())
        w.send("PRE_SLEEP")
        w.expect_nothing(0.3)
        a = Conn(server.address)
        assert listing(a, "status") == [b"fn\t3\t2\t1\n", b".\n"]


# --- CAN_DO_TIMEOUT (reference §3.8) ------------------------------------------------------------

@pytest.mark.parametrize("threads", THREADS)
def test_can_do_timeout_fails_the_job(threads: str) -> None:
    """When a worker holds a job past its CAN_DO_TIMEOUT (1 ms is raised to 1 s) every client
    gets WORK_FAIL, the job is gone (not requeued), and a late result from that worker gets
    ERROR JOB_NOT_FOUND.  (1.1.20 silently requeues.)"""
    with gearmand_py(threads) as server:
        w = worker(server, "fn", timeout=1)
        c1, c2 = Conn(server.address), Conn(server.address)
        handle = submit(c1, "SUBMIT_JOB", "fn", "u1", "x")
        assert submit(c2, "SUBMIT_JOB", "fn", "u1", "x") == handle
        assert request(w, "GRAB_JOB") == ("JOB_ASSIGN", (handle, b"fn", b"x"))
        started = time.monotonic()
        assert packet(c1, timeout=4.0) == ("WORK_FAIL", (handle,))
        assert time.monotonic() - started >= 0.9, "failed before the 1 s minimum"
        assert packet(c2) == ("WORK_FAIL", (handle,))
        assert request(w, "WORK_COMPLETE", handle, "late") == NOT_FOUND
        assert request(w, "WORK_STATUS", handle, "1", "2") == NOT_FOUND
        assert request(c1, "GET_STATUS", handle) == ("STATUS_RES", (handle, b"0", b"0", b"0", b"0"))
        other = worker(server, "fn")
        assert request(other, "GRAB_JOB") == ("NO_JOB", ())
        a = Conn(server.address)
        assert listing(a, "status") == [b"fn\t0\t0\t2\n", b".\n"]
        assert listing(a, "show jobs") == [b".\n"]
        c1.expect_nothing(0.2)


# --- "Don't replicate" (reference Appendix A) ---------------------------------------------------

@pytest.mark.parametrize("threads", THREADS)
def test_create_function_lf_only_keeps_the_whole_name(threads: str) -> None:
    """``create function barx\\n`` creates ``barx`` (1.1.20 cuts two bytes: ``bar``)."""
    with gearmand_py(threads) as server:
        a = Conn(server.address)
        assert admin(a, "create function barx", ending=b"\n") == b"OK\r\n"
        assert listing(a, "status") == [b"barx\t0\t0\t0\n", b".\n"]


@pytest.mark.parametrize("threads", THREADS)
def test_background_job_survives_coalesced_foreground_client_leaving(threads: str) -> None:
    """A foreground client that attached to a background job and left does not kill it: it stays
    queued (IGNORE_JOB 0, JOB_QUEUED 1) and runs.  (1.1.20 never runs it.)"""
    with gearmand_py(threads) as server:
        bg = Conn(server.address)
        handle = submit(bg, "SUBMIT_JOB_BG", "fn", "u1", "bg")
        fg = Conn(server.address)
        assert submit(fg, "SUBMIT_JOB", "fn", "u1", "fg") == handle
        fg.close()
        time.sleep(SETTLE)
        a = Conn(server.address)
        assert listing(a, "show jobs") == [handle + b"\t0\t0\t1\n", b".\n"]
        w = worker(server, "fn")
        assert request(w, "GRAB_JOB") == ("JOB_ASSIGN", (handle, b"fn", b"bg"))
        w.send("WORK_COMPLETE", handle, "done")
        sync(w)
        bg.expect_nothing(0.2)
        assert listing(a, "show jobs") == [b".\n"]


@pytest.mark.parametrize("threads", THREADS)
def test_64_byte_unique_kept_whole(threads: str) -> None:
    """A 64-byte unique is stored whole: GET_STATUS_UNIQUE finds it, ``show unique jobs`` and
    JOB_ASSIGN_UNIQ show all 64 bytes, and another unique sharing its first 63 bytes is another
    job.  (1.1.20 truncates to 63 bytes and cannot find the job.)"""
    unique = b"u" * 63 + b"Z"
    sibling = b"u" * 63 + b"Y"
    with gearmand_py(threads) as server:
        c = Conn(server.address)
        handle = submit(c, "SUBMIT_JOB_BG", "fn", unique, "x")
        assert submit(c, "SUBMIT_JOB_BG", "fn", unique, "dup") == handle
        assert submit(c, "SUBMIT_JOB_BG", "fn", sibling, "y") != handle
        assert request(c, "GET_STATUS_UNIQUE", unique) == (
            "STATUS_RES_UNIQUE", (unique, b"1", b"0", b"0", b"0", b"0"))
        a = Conn(server.address)
        rows = listing(a, "show unique jobs")
        assert sorted(rows) == sorted([unique + b"\n", sibling + b"\n", b".\n"])
        w = worker(server, "fn")
        assert request(w, "GRAB_JOB_UNIQ") == ("JOB_ASSIGN_UNIQ", (handle, b"fn", unique, b"x"))


@pytest.mark.parametrize("threads", THREADS)
def test_reduce_job_with_unique_over_64_bytes_is_refused(threads: str) -> None:
    """A reduce job's unique obeys the same 64-byte limit as any other.  (1.1.20 checks only
    the reducer there, accepts the unique and truncates it.)"""
    with gearmand_py(threads) as server:
        c = Conn(server.address)
        assert request(c, "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "u" * 65, "r", "", "x") == (
            "ERROR", (b"ARGUMENT_TOO_LARGE", b"Unique value too large"))
        name, _args = request(c, "SUBMIT_REDUCE_JOB_BACKGROUND", "red", "u" * 64, "r", "", "x")
        assert name == "JOB_CREATED"


@pytest.mark.parametrize("threads", THREADS)
def test_drop_function_refused_while_jobs_are_queued(threads: str) -> None:
    """``drop function`` of a function with queued jobs (and no workers) is refused; once the
    jobs are done it is dropped.  (1.1.20 frees the function under its jobs.)"""
    with gearmand_py(threads) as server:
        c = Conn(server.address)
        handle = submit(c, "SUBMIT_JOB_BG", "fn", "", "x")
        a = Conn(server.address)
        assert admin(a, "drop function fn") == BUSY
        assert listing(a, "status") == [b"fn\t1\t0\t0\n", b".\n"]
        w = worker(server, "fn")
        assert request(w, "GRAB_JOB") == ("JOB_ASSIGN", (handle, b"fn", b"x"))
        w.send("WORK_COMPLETE", handle, "ok")
        w.send("RESET_ABILITIES")
        sync(w)
        assert admin(a, "drop function fn") == b"OK\r\n"
        assert listing(a, "status") == [b".\n"]


@pytest.mark.parametrize("threads", THREADS)
def test_submit_after_cancel_with_the_same_unique_makes_a_new_job_that_runs(threads: str
                                                                            ) -> None:
    """After ``cancel job``, a submit with the cancelled job's unique gets a new job that a
    worker runs.  (1.1.20 attaches it to the cancelled job, which never runs: the client waits
    forever.)"""
    with gearmand_py(threads) as server:
        c = Conn(server.address)
        cancelled = submit(c, "SUBMIT_JOB", "fn", "u1", "x")
        a = Conn(server.address)
        assert admin(a, f"cancel job {cancelled.decode()}") == b"OK\r\n"
        assert packet(c) == ("WORK_FAIL", (cancelled,))
        c2 = Conn(server.address)
        fresh = submit(c2, "SUBMIT_JOB", "fn", "u1", "y")
        assert fresh != cancelled
        w = worker(server, "fn")
        assert request(w, "GRAB_JOB") == ("JOB_ASSIGN", (fresh, b"fn", b"y"))
        w.send("WORK_COMPLETE", fresh, "done")
        assert packet(c2) == ("WORK_COMPLETE", (fresh, b"done"))


@pytest.mark.parametrize("threads", THREADS)
def test_get_status_unique_counts_foreground_clients(threads: str) -> None:
    """GET_STATUS_UNIQUE's client_count is the number of foreground clients waiting (a
    background submit of the same unique adds none; a client that leaves is taken off).
    (1.1.20 always answers 0.)"""
    with gearmand_py(threads) as server:
        c1, c2, bg, probe = (Conn(server.address) for _ in range(4))
        handle = submit(c1, "SUBMIT_JOB", "fn", "u1", "x")
        assert submit(c2, "SUBMIT_JOB", "fn", "u1", "x") == handle
        assert submit(bg, "SUBMIT_JOB_BG", "fn", "u1", "x") == handle
        assert request(probe, "GET_STATUS_UNIQUE", "u1") == (
            "STATUS_RES_UNIQUE", (b"u1", b"1", b"0", b"0", b"0", b"2"))
        c1.close()
        wait_for(lambda: request(probe, "GET_STATUS_UNIQUE", "u1")[1][5] == b"1", what="count 1")
        submit(bg, "SUBMIT_JOB_BG", "fn", "u2", "x")
        assert request(probe, "GET_STATUS_UNIQUE", "u2") == (
            "STATUS_RES_UNIQUE", (b"u2", b"1", b"0", b"0", b"0", b"0"))


# --- shutdown and signals (reference §3.19, §2.2) ------------------------------------------------

def _graceful_stop(server: ServerProcess, trigger: Callable[[], None]) -> None:
    """After ``trigger`` the server refuses new connections, keeps serving the existing ones
    (a new submit included) until no job is left, then exits 0."""
    w = worker(server, "fn")
    c = Conn(server.address)
    first = submit(c, "SUBMIT_JOB", "fn", "", "one")
    trigger()
    wait_for(lambda: refuses_connections(server), what="the listener to close")
    second = submit(c, "SUBMIT_JOB_BG", "fn", "", "two")
    assert listing(c, "status") == [b"fn\t2\t0\t1\n", b".\n"]
    assert request(w, "GRAB_JOB") == ("JOB_ASSIGN", (first, b"fn", b"one"))
    w.send("WORK_COMPLETE", first, "done")
    assert packet(c) == ("WORK_COMPLETE", (first, b"done"))
    time.sleep(SETTLE)
    assert server.proc.poll() is None, "exited with a job left"
    assert request(w, "GRAB_JOB") == ("JOB_ASSIGN", (second, b"fn", b"two"))
    w.send("WORK_COMPLETE", second, "done")
    assert exits(server) == 0
    w.recv_until_closed(5)


@pytest.mark.parametrize("threads", THREADS)
def test_sigusr1_stops_gracefully(threads: str) -> None:
    with gearmand_py(threads) as server:
        _graceful_stop(server, lambda: server.proc.send_signal(signal.SIGUSR1))


@pytest.mark.parametrize("threads", THREADS)
def test_admin_shutdown_graceful_from_loopback(threads: str) -> None:
    """``shutdown graceful`` from a loopback connection: OK, then as SIGUSR1.  (Removed from
    gearmand in 1.1.15, where it answers ERR UNKNOWN_COMMAND.)"""
    with gearmand_py(threads) as server:
        a = Conn(server.address)

        def trigger() -> None:
            assert admin(a, "shutdown graceful") == b"OK\r\n"

        _graceful_stop(server, trigger)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("line", ["shutdown", "SHUTDOWN"])
def test_admin_shutdown_from_loopback_stops_at_once(threads: str, line: str) -> None:
    """``shutdown`` from a loopback connection: OK, then the server stops although jobs are
    queued and connections open."""
    with gearmand_py(threads) as server:
        w = worker(server, "fn")
        c = Conn(server.address)
        submit(c, "SUBMIT_JOB", "fn", "", "never run")
        a = Conn(server.address)
        assert admin(a, line) == b"OK\r\n"
        assert exits(server) == 0
        for conn in (w, c, a):
            conn.recv_until_closed(5)


@pytest.mark.parametrize("threads", THREADS)
def test_admin_shutdown_wrong_arguments(threads: str) -> None:
    """``shutdown`` with anything but ``graceful`` is ERR INVALID_ARGUMENTS and stops nothing.
    (gearmand 1.1.20: ERR UNKNOWN_COMMAND Unknown+server+commandshutdown for every form.)"""
    invalid = (b"ERR INVALID_ARGUMENTS "
               b"An+incomplete+set+of+arguments+was+sent+to+this+command+shutdown\r\n")
    with gearmand_py(threads) as server:
        a = Conn(server.address)
        assert admin(a, "shutdown now") == invalid
        assert admin(a, "shutdown graceful now") == invalid
        assert admin(a, "version").startswith(b"OK ")
        assert server.proc.poll() is None


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not a loopback address, if it has one."""
    for _index, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915,  # SIOCGIFADDR
                                     struct.pack("256s", name[:15].encode()))
            except OSError:
                continue
        address = socket.inet_ntoa(packed[20:24])
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


@pytest.mark.parametrize("threads", THREADS)
def test_admin_shutdown_from_non_loopback_address_denied(threads: str) -> None:
    """A connection from one of the machine's non-loopback addresses gets ERR PERMISSION_DENIED
    for ``shutdown`` and ``shutdown graceful``; the server keeps running and serving."""
    address = non_loopback_ipv4()
    if address is None:
        pytest.skip("no non-loopback IPv4 address on this machine (see the Admin-level test)")
    with gearmand_py(threads, "--listen", "0.0.0.0") as server:
        try:
            remote = Conn((address, server.port))
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH):
                pytest.skip(f"cannot reach the server on {address}: {exc}")
            raise
        sync(remote)  # its connection has reached the processing thread
        local = Conn(server.address)
        rows = listing(local, "workers")
        assert any(f" {address} ".encode() in row for row in rows), rows
        for line in ("shutdown", "shutdown graceful"):
            reply = admin(remote, line)
            assert reply.startswith(b"ERR PERMISSION_DENIED") and reply.endswith(b"\r\n"), reply
        time.sleep(SETTLE)
        assert server.proc.poll() is None
        assert not refuses_connections(server)
        assert request(remote, "ECHO_REQ", "still served") == ("ECHO_RES", (b"still served",))


def test_admin_shutdown_permission_by_peer_address() -> None:
    """The Admin command itself: a loopback peer (127.0.0.1, 127.0.0.2, ::1, IPv4-mapped
    loopback) may shut down, any other peer gets ERR PERMISSION_DENIED and nothing happens."""
    calls: list[bool] = []
    handler = Admin(ServerInfo(b"v", 1, lambda: "ERROR", calls.append))
    engine = Engine(EngineOptions(job_handle_prefix=b"H:t"))
    for ip in ("10.1.2.3", "192.0.2.2", "::ffff:10.1.2.3", "2001:db8::1", "not-an-ip"):
        peer = Peer(object(), 7, ip)
        for tokens in ((b"shutdown",), (b"shutdown", b"graceful")):
            reply = handler(engine, peer, tokens)
            assert reply.startswith(b"ERR PERMISSION_DENIED"), (ip, reply)
            assert reply.endswith(b"\r\n"), (ip, reply)
    assert calls == []
    for ip in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"):
        peer = Peer(object(), 7, ip)
        assert handler(engine, peer, (b"shutdown",)) == b"OK\r\n"
        assert handler(engine, peer, (b"SHUTDOWN", b"GRACEFUL")) == b"OK\r\n"
    assert calls == [False, True] * 4


@pytest.mark.parametrize("ip, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("127.255.255.254", True), ("::1", True),
    ("::ffff:127.0.0.1", True), ("10.1.2.3", False), ("192.0.2.2", False), ("0.0.0.0", False),
    ("::ffff:10.1.2.3", False), ("fe80::1", False), ("", False), ("localhost", False),
])
def test_is_loopback(ip: str, loopback: bool) -> None:
    assert is_loopback(ip) is loopback


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_sigterm_and_sigint_stop_at_once_with_jobs_left(threads: str, sig: int) -> None:
    """SIGTERM/SIGINT stop the server now, queued and running jobs or not."""
    with gearmand_py(threads) as server:
        w = worker(server, "fn")
        c = Conn(server.address)
        submit(c, "SUBMIT_JOB", "fn", "", "running")
        submit(c, "SUBMIT_JOB_BG", "fn", "", "queued")
        assert request(w, "GRAB_JOB")[0] == "JOB_ASSIGN"
        server.proc.send_signal(sig)
        assert exits(server) == 0
        c.recv_until_closed(5)


@pytest.mark.parametrize("threads", THREADS)
def test_sighup_reopens_the_log_file(threads: str) -> None:
    """After the log file is moved away, SIGHUP makes the server open a new one at the same path
    and write the following lines there; the server keeps running."""
    with gearmand_py(threads, "--verbose", "INFO") as server:
        log = server.log_path
        wait_for(lambda: "Ready to accept connections" in server.log(), what="the startup line")
        rotated = log.with_name(log.name + ".1")
        log.rename(rotated)
        server.proc.send_signal(signal.SIGHUP)
        wait_for(log.exists, what="a new log file")
        bad = Conn(server.address)
        bad.send_raw(b"\0XYZ" + bytes(8))
        bad.recv_until_closed(5)
        wait_for(lambda: "closing connection" in server.log(), what="a line in the new log file")
        old = rotated.read_text()
        assert "Ready to accept connections" in old
        assert "closing connection" not in old
        assert server.proc.poll() is None
        a = Conn(server.address)
        assert admin(a, "verbose") == b"OK INFO\n"
