"""A socket-level fuzz run against a real server, shared by tests/server/test_fuzz.py (seconds, in
CI) and scripts/fuzz (minutes, figures in docs/fuzz.md).

Many connections send what tests/support/fuzzing.Generator makes (valid and broken packets of
every type, admin lines, garbage) and go away at random — a FIN, a half-close, or an RST
(SO_LINGER 0) — while a well-behaved worker and client keep completing jobs of their own function.
The run reports what it sent and what it saw; :func:`problems` says what went wrong: the server
died or stopped serving, the pair stalled or got a wrong result, the pair's function did not
return to zero in ``status``, the log has an internal error or a traceback, or RSS grew past a
bound. Traffic goes to 127.0.0.1 only.

The fuzzers' background jobs of functions nobody works stay queued, as they should, so RSS grows
with the length of a run for a reason that is not a leak. So a run is cut into rounds: after each
one a worker takes every job it can (``drain``) and RSS is read; what a round left behind, RSS
after the last drain against RSS after the first, is what must stay bounded.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from tests.support.fuzzing import FUNCTIONS, Generator
from tests.support.servers import ServerProcess
from tests.support.wire import Conn, ConnectionClosed, Packet

GOOD_FUNCTION = b"fuzz-good"
#: A round trip of the well-behaved pair that takes longer than this is a stall, not slowness.
STALL = 15.0
_JOB_CREATED = b"\0RES" + struct.pack(">I", 8)


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN (SO_LINGER with a zero timeout)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (from /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Report:
    seed: int
    inputs: int = 0
    bytes_sent: int = 0
    connections: int = 0
    closed_by_server: int = 0
    resets: int = 0
    round_trips: int = 0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    #: Per round: jobs in ``show jobs`` before the drain, and after it; RSS after the drain.
    jobs_queued: list[int] = field(default_factory=list)
    jobs_left: list[int] = field(default_factory=list)
    rss_drained_kib: list[int] = field(default_factory=list)
    server_alive: bool = True
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"seed {self.seed}: {self.inputs} inputs ({self.bytes_sent} bytes) on "
                f"{self.connections} connections ({self.closed_by_server} closed by the server, "
                f"{self.resets} reset by us); well-behaved round trips {self.round_trips}; "
                f"RSS {self.rss_before_kib} KiB before, {self.rss_after_kib} KiB after; "
                f"per round: jobs {self.jobs_queued} -> {self.jobs_left} after draining, RSS "
                f"{self.rss_drained_kib} KiB; "
                f"server {'alive' if self.server_alive else 'DEAD'}; "
                f"{len(self.failures)} failure(s)")


def next_job(conn: Conn, stop: threading.Event, grab: str) -> Packet | None:
    """Grab (``GRAB_JOB`` or ``GRAB_JOB_UNIQ``) until a job is assigned, sleeping with PRE_SLEEP
    in between as a worker should; None once ``stop`` is set."""
    while not stop.is_set():
        conn.send(grab)
        packet = conn.recv_packet(STALL)
        while packet.name == "NOOP":  # a wake-up from before this grab
            packet = conn.recv_packet(STALL)
        if packet.name.startswith("JOB_ASSIGN"):
            return packet
        if packet.name != "NO_JOB":
            raise OSError(f"worker got {packet} for {grab}")
        conn.send("PRE_SLEEP")
        try:
            packet = conn.recv_packet(0.2)
        except TimeoutError:
            continue
        if packet.name != "NOOP":
            raise OSError(f"worker got {packet} after PRE_SLEEP")
    return None


class GoodPair:
    """A worker that reverses the data of GOOD_FUNCTION jobs and a client that checks it."""

    def __init__(self, address: tuple[str, int], report: Report) -> None:
        self.address = address
        self.report = report
        #: The client stops first and the worker once the client's last job is done.
        self.stop_client = threading.Event()
        self.stop_worker = threading.Event()
        self.worker = threading.Thread(target=self._guard, args=(self._worker,), daemon=True)
        self.client = threading.Thread(target=self._guard, args=(self._client,), daemon=True)

    def __enter__(self) -> GoodPair:
        self.worker.start()
        self.client.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_client.set()
        self.client.join(STALL + 5)
        self.stop_worker.set()
        self.worker.join(STALL + 5)

    def _guard(self, run) -> None:
        try:
            run()
        except (OSError, ConnectionClosed) as error:
            self.report.failures.append(f"well-behaved {run.__name__[1:]}: {error!r}")

    def _worker(self) -> None:
        conn = Conn(self.address, timeout=STALL)
        conn.send("CAN_DO", GOOD_FUNCTION)
        try:
            while (job := next_job(conn, self.stop_worker, "GRAB_JOB")) is not None:
                handle, _, data = job.args
                conn.send("WORK_COMPLETE", handle, data[::-1])
        finally:
            conn.close()

    def diagnose(self, handle: bytes) -> str:
        """What the server's tables say about a job the pair waits for."""
        return repr({"status": [r for r in admin(self.address, b"status")
                                if r.startswith(GOOD_FUNCTION)],
                     "show jobs": [r for r in admin(self.address, b"show jobs")
                                   if r.startswith(handle + b"\t")],
                     "workers": admin(self.address, b"workers")})

    def _client(self) -> None:
        conn = Conn(self.address, timeout=STALL)
        try:
            n = 0
            while not self.stop_client.is_set():
                n += 1
                data = b"job %d " % n + b"x" * (n % 200)
                conn.send("SUBMIT_JOB", GOOD_FUNCTION, b"", data)
                created = conn.recv_packet(STALL)
                if created.name != "JOB_CREATED":
                    raise OSError(f"client got {created}")
                try:
                    result = conn.recv_packet(STALL)
                except TimeoutError:
                    raise OSError(f"no result for {created.args[0]!r} in {STALL} s; server says: "
                                  f"{self.diagnose(created.args[0])}") from None
                if result.name != "WORK_COMPLETE" or result.args != (created.args[0], data[::-1]):
                    raise OSError(f"client got {result} for {data!r}")
                self.report.round_trips += 1
        finally:
            conn.close()


class Hostile:
    """``count`` connections sending generated input; each one is replaced when it goes away."""

    def __init__(self, address: tuple[str, int], generator: Generator, count: int,
                 report: Report) -> None:
        self.address = address
        self.generator = generator
        self.random = random.Random(generator.random.random())
        self.count = count
        self.report = report
        self.socks: list[socket.socket] = []

    def step(self) -> None:
        while len(self.socks) < self.count:
            sock = socket.create_connection(self.address, timeout=5)
            sock.settimeout(0.2)
            self.socks.append(sock)
            self.report.connections += 1
        sock = self.random.choice(self.socks)
        if self.random.random() < 0.05:
            self.close(sock)
        else:
            data = self.generator.input()
            self.report.inputs += 1
            try:
                sock.sendall(data)
                self.report.bytes_sent += len(data)
            except OSError:  # the server closed it, or it stopped reading (a declared size)
                self.close(sock, rst=True)
        self.read()

    def read(self) -> None:
        """Take what the server sent (a peer that never reads is another test) and learn job
        handles, so later inputs can name real jobs."""
        readable, _, _ = select.select(self.socks, [], [], 0)
        for sock in readable:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                self.report.closed_by_server += 1
                self.close(sock, rst=True)
                continue
            at = data.find(_JOB_CREATED)
            if at >= 0 and len(data) >= at + 12:
                size = struct.unpack_from(">I", data, at + 8)[0]
                handle = data[at + 12:at + 12 + size]
                if len(handle) == size:
                    self.generator.handles = [*self.generator.handles[-63:], handle]

    def close(self, sock: socket.socket, rst: bool | None = None) -> None:
        """A FIN, a half-close first, or an RST (SO_LINGER 0); ``rst`` forces the RST."""
        self.socks.remove(sock)
        how = self.random.randrange(3) if rst is None else 2
        if how == 2:
            self.report.resets += 1
            reset(sock)
            return
        if how == 1:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        sock.close()

    def close_all(self) -> None:
        for sock in self.socks[:]:
            self.close(sock)


def admin(address: tuple[str, int], line: bytes) -> list[bytes]:
    conn = Conn(address)
    try:
        conn.send_line(line)
        return conn.recv_list(10.0)
    finally:
        conn.close()


def good_function_is_idle(address: tuple[str, int], timeout: float = 15.0) -> list[bytes] | None:
    """Wait (bounded) until ``status`` shows GOOD_FUNCTION with no job; its row, or None."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in admin(address, b"status") if r.startswith(GOOD_FUNCTION + b"\t")]
        if rows and rows[0].split(b"\t")[1:3] == [b"0", b"0"]:
            return None
        if time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def job_count(address: tuple[str, int]) -> int:
    """Jobs the server holds (``show jobs`` rows), whatever their functions are called."""
    return len(admin(address, b"show jobs")) - 1


def function_names(address: tuple[str, int]) -> set[bytes]:
    """The functions in ``status`` (a name may hold tabs: the three counts are the last fields);
    a name with a newline cannot be read back, so the fuzzer's own names are added."""
    names = {row.rsplit(b"\t", 3)[0] for row in admin(address, b"status")[:-1]
             if row.count(b"\t") >= 3}
    return (names | set(FUNCTIONS)) - {GOOD_FUNCTION}


def drain(address: tuple[str, int]) -> None:
    """Complete every job a worker can be given: one that can do every function there is takes
    jobs until the server has none for it (jobs scheduled for later stay)."""
    conn = Conn(address, timeout=STALL)
    try:
        for name in function_names(address):
            conn.send("CAN_DO", name)
        while True:
            conn.send("GRAB_JOB")
            packet = conn.recv_packet(STALL)
            while packet.name == "NOOP":
                packet = conn.recv_packet(STALL)
            if packet.name != "JOB_ASSIGN":
                return
            conn.send("WORK_COMPLETE", packet.args[0], b"")
    finally:
        conn.close()


def run(server: ServerProcess, seconds: float, seed: int, connections: int,
        rounds: int = 1) -> Report:
    """Fuzz ``server`` for ``seconds`` with ``connections`` hostile connections at once, in
    ``rounds`` rounds with a drain after each."""
    report = Report(seed)
    pid = server.proc.pid
    report.rss_before_kib = rss_kib(pid)
    generator = Generator(seed)
    hostile = Hostile(server.address, generator, connections, report)
    with GoodPair(server.address, report):
        for _ in range(rounds):
            deadline = time.monotonic() + seconds / rounds
            try:
                while time.monotonic() < deadline and server.proc.poll() is None:
                    hostile.step()
            except OSError as error:  # connect refused: the server is gone
                report.failures.append(f"fuzzing stopped: {error!r}")
                break
            finally:
                hostile.close_all()
            try:
                report.rss_after_kib = rss_kib(pid)
                report.jobs_queued.append(job_count(server.address))
                drain(server.address)
                report.jobs_left.append(job_count(server.address))
                report.rss_drained_kib.append(rss_kib(pid))
            except (OSError, ConnectionClosed) as error:
                report.failures.append(f"draining failed: {error!r}")
                break
    report.server_alive = server.proc.poll() is None
    if not report.server_alive:
        report.failures.append(f"server exited with {server.proc.returncode}")
        return report
    try:
        row = good_function_is_idle(server.address)
        if row is not None:
            report.failures.append(f"{GOOD_FUNCTION.decode()} not back to zero: {row}")
    except (OSError, ConnectionClosed) as error:
        report.failures.append(f"server stopped serving: {error!r}")
    return report


def problems(server: ServerProcess, report: Report, rss_growth_kib: int) -> list[str]:
    """Everything that went wrong in a run, including what the server logged; RSS after the last
    drain may exceed RSS after the first (the start of a single-round run) by ``rss_growth_kib``."""
    found = list(report.failures)
    if report.round_trips == 0:
        found.append("the well-behaved pair completed no job")
    log = server.log()
    for marker in ("internal error", "Traceback"):
        if marker in log:
            at = log.index(marker)
            found.append(f"log has {marker!r}: {log[max(at - 200, 0):at + 1500]}")
    if report.rss_drained_kib:
        first = report.rss_drained_kib[0] if len(report.rss_drained_kib) > 1 else \
            report.rss_before_kib
        if report.rss_drained_kib[-1] - first > rss_growth_kib:
            found.append(f"RSS after draining grew by {report.rss_drained_kib[-1] - first} KiB "
                         f"({report.rss_drained_kib} KiB after each round)")
    return found
