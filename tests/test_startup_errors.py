"""What a new user meets when startup fails: one line on stderr, ``gearmand-py: `` then the option
and the cause, exit status 1, no traceback. Every test runs the real ``python -m gearmand_py``.

Also here: the database URLs a user writes first (plain ``postgresql://`` and ``mysql://``)
work with the drivers gearmand-py ships, and a missing SQLite directory is created.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.test_durable import Backend, drain, reachable, submit_bg
from tests.support.prerequisites import require
from tests.support.servers import free_port, repo_env, start_server
from tests.support.wire import Conn

#: Run before the server in its process: become ``nobody`` once the interpreter and the modules
#: the server needs are loaded (tests run as root, and root's Python may live where nobody may
#: not read, as under /root).
AS_NOBODY = """
import encodings.idna, os, pwd, sqlite3
import sqlalchemy.dialects.sqlite, gearmand_py.cli, gearmand_py.process.startup, queue_backends.sqlite
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
"""


def gearmand_py(workdir: Path, *args: str, prelude: str = "") -> subprocess.CompletedProcess:
    """Run the server in ``workdir`` with an empty config file, no log file and a pid file
    there, on a free port unless ``args`` choose one; it must exit by itself."""
    conf = workdir / "empty.conf"
    conf.write_text("")
    port = [] if "-p" in args else ["-p", str(free_port())]
    program = f"{prelude}\nfrom gearmand_py.cli import main\nraise SystemExit(main())"
    env = repo_env()
    return subprocess.run(
        [sys.executable, "-c", program, "--config-file", str(conf), "-l", "none",
         "-P", str(workdir / "gearmand.pid"), *port, *args],
        capture_output=True, text=True, env=env, cwd=workdir, timeout=60)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The message of a clean startup failure (asserting it is one): status 1, nothing on
    stdout, one stderr line starting ``gearmand-py: ``."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gearmand-py: "), result.stderr
    return lines[0].removeprefix("gearmand-py: ")


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A directory for a server run as nobody (``prelude=AS_NOBODY``): nobody may write in it,
    and its ``locked`` subdirectory nobody may enter but not write. pytest's tmp_path is
    root's alone."""
    require(os.geteuid() == 0, "runs the server as nobody, so the tests must run as root")
    nobody = pwd.getpwnam("nobody")
    workdir = Path(tempfile.mkdtemp(prefix="gearmand-py-nobody-"))
    try:
        os.chown(workdir, nobody.pw_uid, nobody.pw_gid)
        (workdir / "locked").mkdir(mode=0o755)
        yield workdir
    finally:
        shutil.rmtree(workdir)


# --- database URLs and drivers -------------------------------------------------------------------

@pytest.fixture(params=["postgres", "mysql"])
def plain_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """Options for a plain ``postgresql://`` or ``mysql://`` URL (no driver named) and a table
    of the test's own, dropped afterwards."""
    why = reachable(request.param)
    require(why is None, why or "")
    backend = Backend(request.param, "gq_" + uuid.uuid4().hex[:12], tmp_path)
    if request.param == "postgres":
        args = ["--queue-url", "postgresql://postgres@127.0.0.1/test",
                "--libpq-table", backend.table]
    else:
        args = ["--queue-url", "mysql://root@127.0.0.1/test", "--mysql-table", backend.table]
    yield args
    backend.drop()


def test_plain_database_url_keeps_a_background_job_across_a_restart(plain_url: list[str]) -> None:
    """SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3 and ``mysql://`` to mysqlclient,
    neither of which gearmand-py installs; it uses psycopg2 and PyMySQL instead."""
    server = start_server("gearmand-py", plain_url)
    submit_bg(Conn(server.address), "plain_url", "u1", b"kept")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    restarted = start_server("gearmand-py", plain_url)
    try:
        assert drain(restarted, "plain_url", 1) == [b"kept"]
    finally:
        restarted.stop()
        server.stop()


def test_driver_that_is_not_installed(tmp_path: Path) -> None:
    message = one_line_error(gearmand_py(tmp_path, "--queue-url", "postgresql+pg8000://u@h/db"))
    assert message.startswith("--queue-url: the postgresql+pg8000 driver is not installed "
                              "(No module named 'pg8000')"), message


@pytest.mark.parametrize("url, expected", [
    ("not a url", "--queue-url: not a database URL (Could not parse SQLAlchemy URL"),
    ("mysql://root@127.0.0.1:port/test", "--queue-url: not a database URL (invalid literal"),
    ("nosuch://h/db", "--queue-url: SQLAlchemy has no database driver 'nosuch'"),
    ("mysql://root@127.0.0.1/test?bogus=1", "--queue-url: the pymysql driver refused the "
                                            "connection options (Connection.__init__() got an "
                                            "unexpected keyword argument 'bogus')"),
    ("mysql://root@127.0.0.1/", "--queue-url: the URL names no database"),
])
def test_bad_queue_url(tmp_path: Path, url: str, expected: str) -> None:
    if "bogus" in url:
        require(reachable("mysql") is None, reachable("mysql") or "")
    message = one_line_error(gearmand_py(tmp_path, "--queue-url", url))
    assert message.startswith(expected), message


def test_mysql_without_a_database(tmp_path: Path) -> None:
    """gearmand fails with MySQL's "No database selected" (and a traceback here, before)."""
    message = one_line_error(gearmand_py(tmp_path, "-t", "4", "-q", "mysql",
                                         "--mysql-host", "127.0.0.1", "--mysql-user", "root"))
    assert message.startswith("-q mysql: needs --mysql-db NAME"), message
    assert "No database selected" in message


@pytest.mark.parametrize("args, pattern", [
    (["-q", "mysql", "--mysql-host", "127.0.0.1", "--mysql-port", "{closed}",
      "--mysql-user", "root", "--mysql-db", "test"],
     r"-q mysql: \(2003\) Can't connect to MySQL server on '127\.0\.0\.1' .*Connection refused"),
    (["-q", "postgres", "--libpq-conninfo", "host=127.0.0.1 port={closed} user=postgres"],
     r'-q postgres: connection to server at "127\.0\.0\.1", port \d+ failed: Connection refused'),
    (["--queue-url", "mysql://root@nosuchhost.invalid/test"],
     r"--queue-url: \(2003\) Can't connect to MySQL server on 'nosuchhost\.invalid'"),
    (["--queue-url", "postgresql://postgres@nosuchhost.invalid/test"],
     r'--queue-url: could not translate host name "nosuchhost\.invalid" to address'),
    (["-q", "postgres", "--libpq-conninfo", "garbage"],
     r'-q postgres: invalid --libpq-conninfo: .*missing "=" after "garbage"'),
])
def test_database_unreachable_or_misnamed(tmp_path: Path, args: list[str], pattern: str) -> None:
    args = [a.replace("{closed}", str(free_port())) for a in args]
    message = one_line_error(gearmand_py(tmp_path, *args))
    assert re.match(pattern, message), message


@pytest.mark.parametrize("kind", ["mysql", "postgres"])
def test_database_refuses_the_login(tmp_path: Path, kind: str) -> None:
    require(reachable(kind) is None, reachable(kind) or "")
    if kind == "mysql":
        args, pattern = (["--queue-url", "mysql://root:wrong@127.0.0.1/test"],
                         r"--queue-url: \(1045\) Access denied for user 'root'@")
    else:
        args, pattern = (["-q", "postgres", "--libpq-conninfo",
                          "host=127.0.0.1 user=nosuchrole dbname=test"],
                         r'-q postgres: connection to server .* role "nosuchrole" does not exist')
    message = one_line_error(gearmand_py(tmp_path, *args))
    assert re.match(pattern, message), message
    assert "wrong" not in message


# --- SQLite paths ---------------------------------------------------------------------------------

def test_sqlite_missing_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "gearmand" / "queue.db"
    server = start_server("gearmand-py", ["-q", "libsqlite3", "--libsqlite3-db", str(path)])
    try:
        submit_bg(Conn(server.address), "sqlite_dirs", "u", b"x")
        assert path.is_file()
    finally:
        server.stop()


def test_sqlite_path_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "queue.db"
    message = one_line_error(gearmand_py(tmp_path, "-q", "libsqlite3", "--libsqlite3-db",
                                         str(path)))
    assert message == (f"-q libsqlite3: cannot create the directory {tmp_path}/file for the "
                       f"database {path} ({tmp_path}/file is not a directory)")


def test_sqlite_path_is_a_directory(tmp_path: Path) -> None:
    message = one_line_error(gearmand_py(tmp_path, "-q", "sqlite", "--libsqlite3-db",
                                         str(tmp_path)))
    assert message == f"-q sqlite: cannot open the database {tmp_path} (Is a directory)"


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but long enough to be read as a header " * 20)
    message = one_line_error(gearmand_py(tmp_path, "-q", "sqlite", "--libsqlite3-db", str(path)))
    assert message == "-q sqlite: file is not a database", message


def test_sqlite_in_a_directory_the_user_may_not_write(nobody_dir: Path) -> None:
    path = nobody_dir / "locked" / "queue.db"
    message = one_line_error(gearmand_py(nobody_dir, "-q", "libsqlite3", "--libsqlite3-db",
                                         str(path), prelude=AS_NOBODY))
    assert message == f"-q libsqlite3: cannot open the database {path} (Permission denied)"


def test_sqlite_missing_directory_the_user_may_not_create(nobody_dir: Path) -> None:
    path = nobody_dir / "locked" / "gearmand" / "queue.db"
    message = one_line_error(gearmand_py(nobody_dir, "-q", "libsqlite3", "--libsqlite3-db",
                                         str(path), prelude=AS_NOBODY))
    assert message == (f"-q libsqlite3: cannot create the directory {path.parent} for the "
                       f"database {path} (Permission denied)")


def test_sqlite_writable_file_in_a_directory_the_user_may_not_write(nobody_dir: Path) -> None:
    """SQLite's -wal and -shm files go beside the database."""
    path = nobody_dir / "locked" / "queue.db"
    path.write_bytes(b"")
    path.chmod(0o666)
    message = one_line_error(gearmand_py(nobody_dir, "-q", "libsqlite3", "--libsqlite3-db",
                                         str(path), prelude=AS_NOBODY))
    assert message == (f"-q libsqlite3: cannot write in {path.parent}, where SQLite keeps the "
                       f"database's -wal and -shm files (Permission denied)")


# --- listening -----------------------------------------------------------------------------------

def test_listen_host_that_does_not_resolve(tmp_path: Path) -> None:
    message = one_line_error(gearmand_py(tmp_path, "-L", "nosuchhost.invalid"))
    assert re.fullmatch(r"-L nosuchhost\.invalid: cannot resolve host \(.+\)", message), message


def test_listen_host_the_idna_codec_refuses(tmp_path: Path) -> None:
    host = "a" * 70 + ".example"
    message = one_line_error(gearmand_py(tmp_path, "-L", host))
    assert message.startswith(f"-L {host}: not a valid host name ("), message


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = one_line_error(gearmand_py(tmp_path, "-L", "127.0.0.1", "-p", str(port)))
    assert message == (f"-L 127.0.0.1 -p {port}: cannot listen on 127.0.0.1:{port} "
                       "(Address already in use: another process listens there)")


def test_port_in_use_on_ipv4_only_is_not_served_on_ipv6_alone(tmp_path: Path) -> None:
    """All interfaces: 0.0.0.0 taken, [::] free. Serving on [::] alone would send IPv4 clients
    to the other process."""
    require(socket.has_ipv6, "IPv6")
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = one_line_error(gearmand_py(tmp_path, "-p", str(port)))
    assert message.startswith(f"-p {port}: cannot listen on 0.0.0.0:{port} (Address already in "
                              f"use"), message


def test_port_below_1024_as_an_ordinary_user(nobody_dir: Path) -> None:
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    require(start > 999, f"ports from {start} up need no privilege on this machine")
    message = one_line_error(gearmand_py(nobody_dir, "-L", "127.0.0.1", "-p", "999",
                                         prelude=AS_NOBODY))
    assert message == ("-L 127.0.0.1 -p 999: cannot listen on 127.0.0.1:999 "
                       "(Permission denied: ports below 1024 need root)")


def test_address_not_on_this_machine(tmp_path: Path) -> None:
    address = "203.0.113.77"  # TEST-NET-3, documentation only
    message = one_line_error(gearmand_py(tmp_path, "-L", address, "-p", "4730"))
    assert message == (f"-L {address} -p 4730: cannot listen on {address}:4730 (Cannot assign "
                       "requested address: not an address of this machine)")


# --- the rest of startup -------------------------------------------------------------------------

@pytest.mark.parametrize("option, pattern", [
    ("--log-file", r'Could not open log file "{path}" \(No such file or directory\)'),
    ("--pid-file", r"Could not open pid file for writing: {path} \(No such file or directory\)"),
])
def test_file_in_a_missing_directory(tmp_path: Path, option: str, pattern: str) -> None:
    path = tmp_path / "missing" / "file"
    message = one_line_error(gearmand_py(tmp_path, option, str(path)))
    assert re.fullmatch(pattern.format(path=re.escape(str(path))), message), message


def test_config_file_that_cannot_be_read(tmp_path: Path) -> None:
    message = one_line_error(gearmand_py(tmp_path, "--config-file", str(tmp_path / "nosuch")))
    assert str(tmp_path / "nosuch") in message and "No such file or directory" in message


def test_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    conf = tmp_path / "latin1.conf"
    conf.write_bytes("--port=4730 # café\n".encode("latin-1"))
    message = one_line_error(gearmand_py(tmp_path, "--config-file", str(conf)))
    assert message.startswith(f"config file {conf}: not UTF-8 text"), message


def test_file_descriptor_limit_above_the_hard_limit(nobody_dir: Path) -> None:
    message = one_line_error(gearmand_py(nobody_dir, "-f", str(2**40), prelude=AS_NOBODY))
    assert message.startswith(f"Failed to set limit for the number of file descriptors to "
                              f"{2**40}. Try running as root or giving a smaller value to -f."), \
        message
