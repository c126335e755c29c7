"""Shared pieces of the side-by-side benchmarks: build the load generator, start gearmand and
gearmand-py with the same flags, run a load, take medians of alternating runs.

Results are ratios gearmand-py / gearmand measured in one run on one machine; absolute numbers
mean little across machines.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.servers import ServerProcess, start_server  # noqa: E402

GEARLOAD_SOURCE = REPO.parent / "shared" / "tools" / "gearload.c"
#: gearload's loads as scripts/bench runs them: fg pipelines 16 jobs on each of 8 clients for 8
#: workers; bg pipelines 32 background submits on each of 8 clients with no worker; drain is 8
#: workers taking what a bg load queued.
FG_LOAD = ["-c", "8", "-w", "8", "-d", "16", "-s", "64"]
BG_LOAD = ["-c", "8", "-w", "0", "-d", "32", "-s", "64"]
DRAIN_LOAD = ["-w", "8", "-s", "64"]


def build_gearload(source: Path = GEARLOAD_SOURCE) -> Path:
    """Compile gearload.c into a temporary directory (never into the repository)."""
    if not source.exists():
        raise SystemExit(f"load generator source not found: {source}")
    out = Path(tempfile.mkdtemp(prefix="gearload-")) / "gearload"
    subprocess.run(["cc", "-O2", "-o", str(out), str(source)], check=True)
    return out


@contextmanager
def server(kind: str, args: list[str], stop_signal: int | None = None) -> Iterator[ServerProcess]:
    """A fresh server for one measurement; ``stop_signal`` (default SIGTERM) ends it."""
    proc = start_server(kind, args)
    try:
        yield proc
    finally:
        proc.stop(stop_signal)


def gearload(binary: Path, port: int, *args: str, timeout: float = 300) -> dict[str, float]:
    """Run gearload and return its key=value summary as numbers."""
    done = subprocess.run([str(binary), "-p", str(port), *args], capture_output=True, text=True,
                          timeout=timeout)
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    values = dict(re.findall(r"(\w+)=([\d.]+)", line))
    if done.returncode != 0 or not values:
        raise RuntimeError(f"gearload {' '.join(args)} failed ({done.returncode}): "
                           f"{done.stdout}{done.stderr}")
    return {k: float(v) for k, v in values.items()}


def alternate(runs: int, measure: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Run each measurement ``runs`` times, interleaved A B A B, and return the medians."""
    samples: dict[str, list[float]] = {name: [] for name in measure}
    for _ in range(runs):
        for name, fn in measure.items():
            samples[name].append(fn())
    return {name: statistics.median(values) for name, values in samples.items()}


def alternate_samples(runs: int, measure: dict[str, Callable[[], dict[str, float]]]
                      ) -> dict[str, list[dict[str, float]]]:
    """Like ``alternate`` for measurements that return several numbers (jobs/s, p50, p99): every
    run's numbers, in order, per measurement."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in measure}
    for _ in range(runs):
        for name, fn in measure.items():
            samples[name].append(fn())
    return samples


def field_medians(samples: list[dict[str, float]]) -> dict[str, float]:
    """The median of each field over the runs, taken separately."""
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


class CpuAccount:
    """What else used this machine's CPUs between ``__init__`` and ``report()``: the share of
    CPU time stolen by the hypervisor, and the busy CPU time not spent by this process or its
    (waited-for) children, e.g. other work running at the same time."""

    def __init__(self) -> None:
        self.start_stat = self._stat()
        self.start_own = self._own()

    @staticmethod
    def _stat() -> list[int]:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:]]

    @staticmethod
    def _own() -> float:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def report(self) -> str:
        tick = os.sysconf("SC_CLK_TCK")
        delta = [b - a for a, b in zip(self.start_stat, self._stat())]
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        user, nice, system, _idle, _iowait, irq, softirq, steal = (delta + [0] * 8)[:8]
        total = sum(delta[:8]) or 1
        busy = (user + nice + system + irq + softirq) / tick
        other = max(0.0, busy - (self._own() - self.start_own))
        wall = total / tick / (os.cpu_count() or 1)
        return (f"CPU steal {100 * steal / total:.1f}% of CPU time; CPU used by other processes "
                f"{other:.1f} CPU-s over {wall:.0f} s on {os.cpu_count()} CPUs "
                f"({100 * other / (wall * (os.cpu_count() or 1)):.0f}% of the machine)")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status VmRSS."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``wanted`` (the hard limit too when
    allowed); return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        except (OSError, ValueError):  # raising the hard limit needs CAP_SYS_RESOURCE
            wanted = hard
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def admin(address: tuple[str, int], command: bytes, timeout: float = 30) -> tuple[bytes, float]:
    """Send one text admin command (``status``, ``workers``) on a new connection; return the
    reply up to the final ``.\n`` and the seconds from sending to that final line."""
    with socket.create_connection(address, timeout=timeout) as s:
        start = time.perf_counter()
        s.sendall(command)
        reply = b""
        while not reply.endswith(b".\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError(f"server closed the connection during {command!r}")
            reply += chunk
        return reply, time.perf_counter() - start


def open_idle_connections(address: tuple[str, int], count: int,
                          timeout: float = 10) -> list[socket.socket]:
    """Open ``count`` client connections and leave them idle. Plain blocking connects: on
    loopback each completes in the kernel (tens of microseconds) as long as the server's listen
    queue has room, so the server needs a large ``-b``; with gearmand's default of 32 each connect
    waits for the server's accept loop and costs milliseconds. Closing sends RST (SO_LINGER 0)
    so no TIME_WAIT ports pile up between runs."""
    linger = struct.pack("ii", 1, 0)
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.create_connection(address, timeout=timeout)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            socks.append(s)
    except BaseException:
        close_all(socks)
        raise
    return socks


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


def machine() -> str:
    """One line describing where the numbers come from."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


#: In docs/benchmarks.md, what follows this line is kept when scripts/bench rewrites the file:
#: sections other scripts write (``write_section``) or people add.
KEEP_MARKER = "<!-- Below: sections of other benchmark scripts; scripts/bench keeps them. -->"


def write_section(path: Path, heading: str, text: str) -> None:
    """Put ``## heading`` with ``text`` in ``path`` below KEEP_MARKER, replacing the section of
    that heading if there is one."""
    doc = path.read_text() if path.exists() else ""
    if KEEP_MARKER not in doc:
        doc = doc.rstrip("\n") + "\n\n" + KEEP_MARKER + "\n"
    head, tail = doc.split(KEEP_MARKER, 1)
    title = f"## {heading}"
    sections = re.split(r"(?m)^(?=## )", tail)
    section = f"{title}\n\n{text.strip()}\n\n"
    kept = [s for s in sections if s.strip() and not s.startswith(title + "\n")]
    path.write_text(head + KEEP_MARKER + "\n\n" + "".join(
        s if s.endswith("\n\n") else s.rstrip("\n") + "\n\n" for s in kept + [section]))


def kept_sections(path: Path) -> str:
    """KEEP_MARKER and what follows it in ``path``, for a script that rewrites the rest."""
    doc = path.read_text() if path.exists() else ""
    return doc[doc.index(KEEP_MARKER):] if KEEP_MARKER in doc else KEEP_MARKER + "\n"
