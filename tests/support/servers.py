"""Start real job servers (gearmand-py or Debian's gearmand 1.1.20) on free loopback ports.

Both kinds are started with the same gearmand flags, so a test can run one scenario against each
and compare what the clients see.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GEARMAND = shutil.which("gearmand") or "/usr/sbin/gearmand"


def repo_env() -> dict[str, str]:
    """The environment for a process that must import this checkout's packages."""
    return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """A running job server; ``port`` is where clients connect."""

    kind: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    workdir: Path
    args: list[str] = field(default_factory=list)
    #: How clients wrap their connections when the server speaks TLS.
    tls: ssl.SSLContext | None = None

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def connect(self, timeout: float = 5.0) -> socket.socket:
        """A client connection, over TLS when the server speaks it."""
        sock = socket.create_connection(self.address, timeout=timeout)
        if self.tls is None:
            return sock
        try:
            return self.tls.wrap_socket(sock, server_hostname="localhost")
        except BaseException:
            sock.close()
            raise

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig: int | None = None, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.proc.returncode


def gearmand_available() -> bool:
    return os.path.exists(GEARMAND)


def _command(kind: str, port: int, workdir: Path, args: list[str],
             prelude: str | None = None) -> tuple[list[str], Path]:
    log = workdir / "server.log"
    common = ["--listen", "127.0.0.1", "--port", str(port), "--log-file", str(log),
              "--pid-file", str(workdir / "server.pid")]
    if kind == "gearmand":
        # Debian's gearmand refuses to run as root without -u.
        user = ["-u", "root"] if os.geteuid() == 0 else []
        return [GEARMAND, *common, *user, *args], log
    if kind == "gearmand-py":
        if prelude is not None:  # Python run before the server starts, e.g. to plant a fault
            program = f"{prelude}\nfrom gearmand_py.cli import main\nraise SystemExit(main())"
            return [sys.executable, "-c", program, *common, *args], log
        return [sys.executable, "-m", "gearmand_py", *common, *args], log
    raise ValueError(f"unknown server kind {kind!r}")


def _wait_until_alone(server: ServerProcess, deadline: float) -> None:
    """Wait until the server has forgotten the readiness probe, so a test's ``workers`` listing
    shows only the test's own connections."""
    with server.connect(timeout=1) as s:
        while time.monotonic() < deadline:
            s.sendall(b"workers\r\n")
            reply = b""
            while not reply.endswith(b".\n"):
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("server closed the connection")
                reply += chunk
            if reply.count(b"\n") <= 2:  # this connection and the final ".\n"
                return
            time.sleep(0.01)
        raise OSError("the readiness probe's connection is still listed by `workers`")


def start_server(kind: str, args: list[str] | tuple[str, ...] = (), timeout: float = 15.0,
                 prelude: str | None = None, port: int | None = None,
                 tls: ssl.SSLContext | None = None) -> ServerProcess:
    """Start ``kind`` ("gearmand" or "gearmand-py") with extra gearmand-style ``args``; wait until
    it answers the admin ``version`` command. ``prelude`` is Python that gearmand-py runs first;
    ``port`` (default: a free one) lets a test restart a server where its clients expect it;
    then they may connect at once, so the server is not awaited alone (the readiness probe
    gone from ``workers``) as a fresh one is. ``tls``: the client context for a server started
    with ``--ssl``."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-"))
    restarted = port is not None
    port = free_port() if port is None else port
    cmd, log = _command(kind, port, workdir, list(args), prelude)
    env = repo_env()
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "stderr.log", "wb"))
    server = ServerProcess(kind, port, proc, log, workdir, list(args), tls)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (workdir / "stderr.log").read_text(errors="replace")
            raise RuntimeError(f"{kind} exited with {proc.returncode}: {err}{server.log()}")
        try:
            with server.connect(timeout=1) as s:
                s.sendall(b"version\r\n")
                ready = s.recv(100).startswith(b"OK")
            if ready:
                if not restarted:
                    _wait_until_alone(server, deadline)
                return server
        except OSError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{kind} did not answer on port {port} within {timeout}s")
