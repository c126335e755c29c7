"""gearmand-py's start-up as an operator meets it: -d, -u, systemd's notify socket and socket
activation, and Ctrl-C while it starts. Real processes, real sockets."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.test_process import read_packet, request
from tests.support.servers import REPO, free_port, repo_env

THREADS = [pytest.param("0", id="t0"), pytest.param("4", id="t4")]
SUBMIT_JOB_BG, JOB_CREATED = 18, 8
ENV = repo_env()
for _name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"):
    ENV.pop(_name, None)
NOBODY = pwd.getpwnam("nobody")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gearmand_py", "--config-file", os.devnull, *args]


def start(*args: str, env: dict[str, str] | None = None, **popen: object) -> subprocess.Popen:
    return subprocess.Popen(command(*args), env=env or ENV, cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)  # type: ignore[call-overload]


def admin(port: int, line: str, timeout: float = 5.0) -> str:
    """One admin command's reply (up to the final line of a listing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(line.encode() + b"\r\n")
        reply = b""
        while not reply.endswith(b".\n" if line in ("status", "workers") else b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply.decode()


def wait_serving(port: int, proc: subprocess.Popen | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if admin(port, "version", timeout=1).startswith("OK"):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing serves on port {port}")


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaps counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        assert time.monotonic() < deadline, f"process {pid} is still running"
        time.sleep(0.05)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def low_port() -> int:
    """A free port below 1024 on 127.0.0.1."""
    for port in range(700, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port below 1024")


def submit_bg(port: int, function: bytes = b"fn") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request(SUBMIT_JOB_BG, function, b"u1", b"data"))
        return read_packet(s)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory outside root's private tmp (nobody must reach it), owned by root, 0755."""
    path = Path(tempfile.mkdtemp(prefix="gearmand-py-startup-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# --- -d/--daemon ---------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", THREADS)
def test_daemon_returns_once_serving_and_the_pid_file_names_the_server(tmp_path, threads):
    port, pid_file = free_port(), tmp_path / "server.pid"
    done = subprocess.run(command("-d", "-t", threads, "-L", "127.0.0.1", "-p", str(port),
                                  "-l", str(tmp_path / "log"), "-P", str(pid_file)),
                          env=ENV, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    pid = int(pid_file.read_text())  # written before the parent returned
    try:
        assert admin(port, "version").startswith("OK")  # serving when the command returned
        assert admin(port, "getpid").strip() == f"OK {pid}"
        assert os.getsid(pid) == pid  # the child leads its own session
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == os.devnull
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_gone(pid)
    assert not pid_file.exists()


def test_daemon_on_a_taken_port_fails_with_the_cause(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(command("-d", "-L", "127.0.0.1", "-p", str(port), "-l", "none",
                                      "-P", str(tmp_path / "pid")),
                              env=ENV, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == (f"gearmand-py: -L 127.0.0.1 -p {port}: cannot listen on "
                           f"127.0.0.1:{port} (Address already in use: another process listens "
                           "there)\n")
    assert not (tmp_path / "pid").exists()


@pytest.mark.parametrize("threads", THREADS)
def test_daemon_with_a_bad_queue_fails_with_the_childs_error(tmp_path, threads):
    """The queue is opened in the child, after detaching: its error comes through the pipe."""
    port = free_port()
    done = subprocess.run(command("-d", "-t", threads, "-L", "127.0.0.1", "-p", str(port),
                                  "-l", "none", "-P", str(tmp_path / "pid"), "-q", "libsqlite3"),
                          env=ENV, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "gearmand-py: -q libsqlite3: needs --libsqlite3-db FILE\n"
    assert not (tmp_path / "pid").exists()
    with socket.socket() as s:  # the child is gone and its port free
        s.bind(("127.0.0.1", port))


# --- -u/--user ----------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", THREADS)
def test_user_serves_below_1024_as_the_user_and_reopens_its_log(shared_dir, threads):
    run_dir = shared_dir / "run"  # the user's own directory, so a rotated log can be recreated
    run_dir.mkdir()
    os.chown(run_dir, NOBODY.pw_uid, NOBODY.pw_gid)
    log, pid_file, port = run_dir / "gearmand.log", run_dir / "gearmand.pid", low_port()
    proc = start("-u", "nobody", "-t", threads, "-L", "127.0.0.1", "-p", str(port), "-l", str(log),
                 "-P", str(pid_file), "--verbose", "NOTICE")
    try:
        wait_serving(port, proc)
        status = proc_status(proc.pid)
        assert status["Uid"].split() == [str(NOBODY.pw_uid)] * 4
        assert status["Gid"].split() == [str(NOBODY.pw_gid)] * 4
        assert set(map(int, status["Groups"].split())) == set(
            os.getgrouplist("nobody", NOBODY.pw_gid))
        assert pid_file.read_text() == f"{proc.pid}\n"
        assert "started: pid" in log.read_text() and "user nobody" in log.read_text()
        log.rename(run_dir / "gearmand.log.1")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not log.exists():
            assert time.monotonic() < deadline, "SIGHUP did not recreate the log"
            time.sleep(0.05)
        assert log.stat().st_uid == NOBODY.pw_uid
        proc.send_signal(signal.SIGUSR1)  # graceful stop: logs to the new file on its way out
        assert proc.wait(10) == 0
    finally:
        stop(proc)
    assert "Shutdown complete" in log.read_text()
    assert not pid_file.exists()


@pytest.mark.parametrize("threads", THREADS)
def test_user_with_sqlite_in_a_fresh_directory_stores_jobs(shared_dir, threads):
    """The database's directory does not exist: it is created for the user, who can then write
    the database and its -wal and -shm files."""
    database, port = shared_dir / "state" / "queue.db", free_port()
    proc = start("-u", "nobody", "-t", threads, "-L", "127.0.0.1", "-p", str(port), "-l", "none",
                 "-P", str(shared_dir / "pid"), "-q", "libsqlite3", "--libsqlite3-db", str(database))
    try:
        wait_serving(port, proc)
        ptype, handle = submit_bg(port)
        assert ptype == JOB_CREATED, handle  # committed before JOB_CREATED
    finally:
        assert stop(proc) == 0
    for path in (database.parent, database):
        assert path.stat().st_uid == NOBODY.pw_uid
    proc = start("-t", threads, "-L", "127.0.0.1", "-p", str(port), "-l", "none",
                 "-P", str(shared_dir / "pid"), "-q", "libsqlite3", "--libsqlite3-db", str(database))
    try:
        wait_serving(port, proc)
        assert "fn\t1\t0\t0" in admin(port, "status")  # the job was stored
    finally:
        stop(proc)


def test_user_when_not_root_is_refused_as_gearmand_refuses_it():
    """The server runs as nobody (its modules imported first, in case nobody cannot read the
    interpreter's libraries)."""
    # locale: argparse's messages need it, and nothing else the server imports loads it.
    program = ("import locale, os, sys; import gearmand_py.process.startup; "
               "from gearmand_py.cli import "
               f"main; os.setgroups([]); os.setgid({NOBODY.pw_gid}); os.setuid({NOBODY.pw_uid}); "
               "sys.exit(main())")
    done = subprocess.run([sys.executable, "-c", program, "--config-file", os.devnull,
                           "-u", "nobody", "-l", "none", "-p", str(free_port())],
                          env=ENV, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (1, "gearmand-py: Must be root to switch users.\n")


def test_user_is_not_handed_a_file_through_a_symlink(shared_dir):
    """The user owns the run directory after a first start, so it may plant a symlink where the
    pid file goes; root must neither chown nor write the file it points at."""
    run_dir = shared_dir / "run"
    run_dir.mkdir()
    os.chown(run_dir, NOBODY.pw_uid, NOBODY.pw_gid)
    secret = shared_dir / "secret"
    secret.write_text("root's\n")
    secret.chmod(0o600)
    (run_dir / "gearmand.pid").symlink_to(secret)
    done = subprocess.run(command("-u", "nobody", "-L", "127.0.0.1", "-p", str(free_port()),
                                  "-l", "none", "-P", str(run_dir / "gearmand.pid")),
                          env=ENV, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Could not open pid file" in done.stderr, done.stderr
    assert (secret.stat().st_uid, secret.read_text()) == (0, "root's\n")


def test_unknown_user_is_a_clear_error():
    done = subprocess.run(command("-u", "no-such-user-x", "-l", "none", "-p", str(free_port())),
                          env=ENV, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (
        1, 'gearmand-py: Could not find user "no-such-user-x" (-u/--user)\n')


# --- systemd -------------------------------------------------------------------------------------


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path) -> Iterator[tuple[socket.socket, str]]:
    """A real AF_UNIX datagram socket, and the NOTIFY_SOCKET value that names it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = name = str(tmp_path / "notify")
    else:
        name = f"@gearmand-py-test-{os.getpid()}-{time.monotonic_ns()}"
        address = "\0" + name[1:]
    sock.bind(address)
    sock.settimeout(20)
    yield sock, name
    sock.close()


def messages(sock: socket.socket, until: str, timeout: float = 20) -> list[str]:
    """Datagrams, each as its text, up to the first one that holds ``until``."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(until in m.split("\n") or until in m for m in got):
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            raise AssertionError(f"no {until!r} in {got}") from None
    return got


@pytest.mark.parametrize("threads", THREADS)
def test_notify_ready_only_once_served_and_replayed_then_stopping(tmp_path, notify_socket,
                                                                threads):
    sock, name = notify_socket
    database, port = tmp_path / "queue.db", free_port()
    args = ("-t", threads, "-L", "127.0.0.1", "-p", str(port), "-l", "none",
            "-P", str(tmp_path / "pid"), "-q", "libsqlite3", "--libsqlite3-db", str(database))
    first = start(*args)  # store one job for the next start to replay
    try:
        wait_serving(port, first)
        assert submit_bg(port)[0] == JOB_CREATED
    finally:
        stop(first)
    proc = start(*args, env=dict(ENV, NOTIFY_SOCKET=name))
    try:
        [ready] = messages(sock, "READY=1")
        # At READY a client is served at once, and the stored job is already queued.
        assert "fn\t1\t0\t0" in admin(port, "status", timeout=1)
        lines = ready.split("\n")
        assert "STATUS=1 jobs queued, 0 running; 0 workers, 0 connections" in lines
        assert f"MAINPID={proc.pid}" in lines
        proc.send_signal(signal.SIGTERM)
        assert any("STOPPING=1" in m.split("\n") for m in messages(sock, "STOPPING=1"))
        assert proc.wait(10) == 0
    finally:
        stop(proc)


@pytest.mark.parametrize("threads", THREADS)
def test_notify_watchdog_pings_at_half_the_timeout(tmp_path, notify_socket, threads):
    sock, name = notify_socket
    port = free_port()
    proc = start("-t", threads, "-L", "127.0.0.1", "-p", str(port), "-l", "none",
                 "-P", str(tmp_path / "pid"),
                 env=dict(ENV, NOTIFY_SOCKET=name, WATCHDOG_USEC="600000"))
    try:
        messages(sock, "READY=1")
        started = time.monotonic()
        pings = [m for m in messages(sock, "WATCHDOG=1") if "WATCHDOG=1" in m]
        pings += [m for m in messages(sock, "WATCHDOG=1") if "WATCHDOG=1" in m]
        assert len(pings) == 2 and time.monotonic() - started < 2.0
        assert all("STATUS=0 jobs queued" in m for m in pings)
    finally:
        stop(proc)


@pytest.mark.parametrize("threads", THREADS)
def test_socket_activation_serves_on_the_socket_it_is_given(tmp_path, threads):
    given = socket.socket()
    given.bind(("127.0.0.1", 0))
    given.listen()
    given_port, not_bound = given.getsockname()[1], free_port()
    fd = given.fileno()
    script = (f'exec 3<&{fd} {fd}<&-; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"')
    proc = subprocess.Popen(
        ["bash", "-c", script, "bash", *command("-t", threads, "-L", "127.0.0.1", "-p", str(not_bound),
                                            "-l", "stderr", "-P", str(tmp_path / "pid"))],
        env=ENV, cwd=REPO, pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    given.close()  # only the server holds it now
    try:
        wait_serving(given_port, proc)
        with socket.create_connection(("127.0.0.1", given_port), timeout=5) as s:
            s.sendall(request(SUBMIT_JOB_BG, b"fn", b"u", b"x"))
            assert read_packet(s)[0] == JOB_CREATED
        with pytest.raises(ConnectionRefusedError):  # -L/-p were not bound
            socket.create_connection(("127.0.0.1", not_bound), timeout=5).close()
        assert admin(given_port, "getpid").strip() == f"OK {proc.pid}"
    finally:
        assert stop(proc) == 0
    assert f"listening on gear 127.0.0.1:{given_port}," in proc.stderr.read()


def _listening(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen()
    return sock


def _activated(sockets: list[socket.socket], *args: str) -> subprocess.Popen:
    """The server started as systemd starts it, with ``sockets`` as descriptors 3, 4, ..."""
    fds = [sock.fileno() for sock in sockets]
    # Through spare descriptors first, so that no move overwrites a socket not yet moved.
    spare = " ".join(f"{100 + i}<&{fd} {fd}<&-" for i, fd in enumerate(fds))
    moves = " ".join(f"{3 + i}<&{100 + i} {100 + i}<&-" for i in range(len(fds)))
    script = f'exec {spare}; exec {moves}; LISTEN_PID=$$ LISTEN_FDS={len(fds)} exec "$@"'
    proc = subprocess.Popen(["bash", "-c", script, "bash", *command(*args)], env=ENV, cwd=REPO,
                            pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for sock in sockets:
        sock.close()  # only the server holds them now
    return proc


def _healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as reply:
        return reply.status


@pytest.mark.parametrize("passed", [True, False], ids=["socket from systemd", "bound"])
def test_socket_activation_serves_the_monitor_on_its_socket_or_binds_it(tmp_path, passed):
    gear = _listening()
    monitor = _listening() if passed else None
    monitor_port = monitor.getsockname()[1] if monitor is not None else free_port()
    gear_port = gear.getsockname()[1]
    # The monitor's socket comes first: it is told apart by its port, not its place.
    proc = _activated([s for s in (monitor, gear) if s is not None],
                      "-l", "stderr", "-P", str(tmp_path / "pid"), "--monitor-port",
                      str(monitor_port))
    try:
        wait_serving(gear_port, proc)
        assert _healthz(monitor_port) == 200
        with socket.create_connection(("127.0.0.1", gear_port), timeout=5) as s:
            s.sendall(request(SUBMIT_JOB_BG, b"fn", b"u", b"x"))
            assert read_packet(s)[0] == JOB_CREATED
    finally:
        assert stop(proc) == 0
    how = "socket from systemd" if passed else "bound"
    line = proc.stderr.read()
    assert f"listening on gear 127.0.0.1:{gear_port}, " in line
    assert f"monitor 127.0.0.1:{monitor_port} ({how})," in line


def test_socket_activation_refuses_a_monitor_socket_at_another_address(tmp_path):
    """A socket on the monitor port but not at --monitor-listen's address: a clear line, not
    the monitor served where it was not asked for, nor gear served on the monitor's port."""
    gear, monitor = _listening(), _listening()
    monitor_port = monitor.getsockname()[1]
    proc = _activated([gear, monitor], "-l", "none", "-P", str(tmp_path / "pid"),
                      "--monitor-port", str(monitor_port), "--monitor-listen", "127.0.0.2")
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (
        1, f"gearmand-py: socket activation: systemd passed a socket on 127.0.0.1 port "
           f"{monitor_port}, the monitor port, but --monitor-listen is 127.0.0.2 (make the "
           "ListenStream= of that port and --monitor-listen agree)\n")


def test_socket_activation_refuses_a_unix_socket(tmp_path):
    """A ListenStream=/path socket is not one gear is served on: a clear line at startup, not a
    failure at the first connection."""
    given = socket.socket(socket.AF_UNIX)
    given.bind(str(tmp_path / "gear.sock"))
    given.listen()
    fd = given.fileno()
    script = f'exec 3<&{fd} {fd}<&-; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"'
    done = subprocess.run(
        ["bash", "-c", script, "bash", *command("-l", "none", "-P", str(tmp_path / "pid"))],
        env=ENV, cwd=REPO, pass_fds=(fd,), capture_output=True, text=True, timeout=60)
    given.close()
    assert (done.returncode, done.stderr) == (
        1, "gearmand-py: socket activation: descriptor 3 is not a TCP socket (gear is served "
           "over TCP only: ListenStream=PORT or ADDRESS:PORT)\n")


# --- Ctrl-C and SIGTERM during start-up -----------------------------------------------------------


def connected_to(port: int) -> bool:
    """Whether an established TCP connection to 127.0.0.1:``port`` exists (/proc/net/tcp)."""
    target = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == target and fields[3] == "01":
            return True
    return False


def start_with_a_silent_database(tmp_path: Path, silent: socket.socket,
                                 *options: str) -> subprocess.Popen:
    """A server whose database accepts the connection but never greets, once it waits in its
    connect."""
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    db_port = silent.getsockname()[1]
    proc = start(*options, "-L", "127.0.0.1", "-p", str(free_port()), "-l", "none",
                 "-P", str(tmp_path / "pid"),
                 "--queue-url", f"mysql+pymysql://root@127.0.0.1:{db_port}/test")
    deadline = time.monotonic() + 20
    while not connected_to(db_port):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the server never connected to the database"
        time.sleep(0.05)
    return proc


@pytest.mark.parametrize("daemon", [False, True], ids=["foreground", "daemon"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGUSR1],
                         ids=["INT", "TERM", "USR1"])
def test_signal_during_a_slow_database_connect_ends_startup_with_one_line(tmp_path, sig, daemon):
    """The server waits in its connect until the signal ends the start-up."""
    with socket.socket() as silent:
        proc = start_with_a_silent_database(tmp_path, silent, *(["-d"] if daemon else []))
        time.sleep(0.5)
        assert proc.poll() is None  # -d returns only once the child serves, which it cannot
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    # With -d the parent stops the child with SIGTERM and prints what the child says.
    name = "SIGTERM" if daemon else signal.Signals(sig).name
    assert (proc.returncode, out, err) == (1, "", f"gearmand-py: interrupted by {name} during "
                                                  "startup\n")
    assert not (tmp_path / "pid").exists()


def test_sighup_during_startup_is_ignored(tmp_path):
    """logrotate's postrotate may send SIGHUP while the server starts: its default would end
    the process without a word; the start-up goes on (here until SIGINT ends it)."""
    with socket.socket() as silent:
        proc = start_with_a_silent_database(tmp_path, silent)
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert (proc.returncode, err) == (1, "gearmand-py: interrupted by SIGINT during startup\n")
