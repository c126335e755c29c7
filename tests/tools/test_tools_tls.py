"""``-S`` of gearman-py and gearadmin-py against gearmand-py ``--ssl --ssl-verify-clients`` at
-t 0 and -t 4, with the files libgearman 1.1.20 reads (``$GEARMAND_CA_CERTIFICATE``,
``$GEARMAN_CLIENT_PEM``, ``$GEARMAN_CLIENT_KEY``).

Debian's libgearman is built without TLS: its ``-S`` is accepted and does nothing, so it cannot
talk to a TLS server. The differential is therefore: Debian's tools over plaintext against
gearmand-py, and ours with ``-S`` over TLS against gearmand-py in the same state, print the same
stdout and stderr and exit with the same status; TLS changes nothing a user sees.
"""

from __future__ import annotations

import os
import re
import select
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gearmand_py.client.compat as gearman
from gearmand_py.client import tls_context
from gearmand_py.client.servers import Address
from gearmand_py.client.text import TextConnection
from tests.server.test_process import THREADS
from tests.support.certs import Certs, make_certs
from tests.support.servers import ServerProcess, repo_env, start_server
from tests.tools.test_gearadmin_py import GEARADMIN_PY
from tests.tools.test_gearman_py import GEARMAN, GEARMAN_PY, TIMEOUT, require_tools
from tests.tools.test_gearman_py import _run as run

GEARADMIN = ("gearadmin",)
#: Worker options and commands; the clients' cases below use them.
WORKERS = [["-f", "rev", "--", "rev"], ["-f", "lines", "-n", "--", "cat"],
           ["-f", "fail", "--", "sh", "-c", "echo partial; exit 3"], ["-f", "echo"]]
CLIENT = [
    (["-f", "rev"], b"hello\nworld\n"), (["-P", "-f", "rev"], b"hi\n"),
    (["-n", "-f", "rev"], b"ab\ncd\nef"), (["-P", "-f", "lines"], b"x\ny\nz\n"),
    (["-f", "fail"], b"q"), (["-f", "rev", "-f", "echo"], b"two"),
    (["-I", "-u", "one", "-f", "rev"], b"high"), (["-b", "-f", "nobody"], b"queued"),
    (["-t", "200", "-f", "nobody"], b"waits"),
]
ADMIN = [["--create-function", "made"], ["--status"], ["--show-jobs"], ["--show-unique-jobs"],
         ["--server-version"], ["--getpid"], ["--workers"], ["--drop-function", "made"],
         ["--cancel-job", "H:nothing:1"], ["--status", "--priority-status"]]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def env_for(certs: Certs, **files: Path) -> dict[str, str]:
    names = {"ca": "GEARMAND_CA_CERTIFICATE", "cert": "GEARMAN_CLIENT_PEM",
             "key": "GEARMAN_CLIENT_KEY"}
    chosen = {"ca": certs.ca, "cert": certs.client_cert, "key": certs.client_key, **files}
    return dict(repo_env(), **{names[what]: str(path) for what, path in chosen.items()})


def tls_args(certs: Certs) -> list[str]:
    return ["--ssl", "--ssl-certificate", str(certs.server_cert), "--ssl-key",
            str(certs.server_key), "--ssl-ca-file", str(certs.ca), "--ssl-verify-clients"]


def at(server: ServerProcess) -> list[str]:
    return ["-h", "localhost", "-p", str(server.port)]


@pytest.fixture(scope="module", params=THREADS)
def pair(request: pytest.FixtureRequest, certs: Certs
         ) -> Iterator[tuple[ServerProcess, ServerProcess, dict[str, str]]]:
    """A plaintext and a TLS gearmand-py, each with the WORKERS: Debian's on the plaintext
    one, gearman-py -S on the TLS one."""
    require_tools()
    env = env_for(certs)
    ctx = tls_context(str(certs.ca), str(certs.client_cert), str(certs.client_key))
    plain = start_server("gearmand-py", request.param)
    tls = start_server("gearmand-py", [*request.param, *tls_args(certs)], tls=ctx)
    workers = [subprocess.Popen([*tool, "-w", *at(server), *options], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for tool, server in (((GEARMAN,), plain), ((*GEARMAN_PY, "-S"), tls))
               for options in WORKERS]
    try:
        for server, context in ((plain, None), (tls, ctx)):
            wait_for_workers(gearman.GearmanAdminClient(
                [f"127.0.0.1:{server.port}"], ssl_context=context), len(WORKERS))
        yield plain, tls, env
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        plain.stop()
        tls.stop()


def wait_for_workers(admin: gearman.GearmanAdminClient, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while sum(row["workers"] for row in admin.get_status()) < count:
        assert time.monotonic() < deadline, admin.get_status()
        time.sleep(0.05)
    admin.close()


@pytest.mark.parametrize("args,stdin", CLIENT, ids=[" ".join(args) for args, _ in CLIENT])
def test_gearman_py_over_tls_prints_what_gearman_prints(pair, args: list[str],  # type: ignore
                                                        stdin: bytes) -> None:
    plain, tls, env = pair
    expected = run((GEARMAN,), [*at(plain), *args], stdin)
    assert run(GEARMAN_PY, ["-S", *at(tls), *args], stdin, env) == expected


def _admin_output(done: tuple[int, bytes, bytes]) -> tuple[int, list[bytes], bytes]:
    """Without the pid, the descriptor column of ``--workers`` and gearman's random uniques,
    lines in order (workers connect in any order)."""
    status, stdout, stderr = done
    stdout = re.sub(rb"[0-9a-f]{8}-[0-9a-f-]{27}", b"UUID", stdout)
    stdout = re.sub(rb"^\d+ ", b"N ", stdout, flags=re.M)
    stdout = re.sub(rb"^\d+\n", b"PID\n", stdout, flags=re.M)
    return status, sorted(stdout.split(b"\n")), stderr


def test_gearadmin_py_over_tls_prints_what_gearadmin_prints(pair) -> None:  # type: ignore
    plain, tls, env = pair
    for args in ADMIN:
        expected = _admin_output(run(GEARADMIN, [*at(plain), *args]))
        assert _admin_output(run(GEARADMIN_PY, ["-S", *at(tls), *args], env=env)) == expected


def test_gearadmin_py_reads_a_reply_longer_than_a_tls_record(  # type: ignore[no-untyped-def]
        pair, certs: Certs) -> None:
    """gearadmin reads 8 KiB at a time, a TLS record holds up to 16 KiB: the rest of a record
    waits decrypted inside the TLS layer, where poll does not see it, and must be printed."""
    _, tls, env = pair
    # 1200 rows of 37 bytes: the last 16 KiB record holds about 11 KiB, more than one read.
    names = [f"function-with-a-long-name-{n:04}" for n in range(1200)]
    conn = TextConnection(Address(*tls.address), 5, tls_context(
        str(certs.ca), str(certs.client_cert), str(certs.client_key)))
    try:
        for name in names:
            conn.command(b"create function " + name.encode())
        status, stdout, stderr = run(GEARADMIN_PY, ["-S", *at(tls), "--status"], env=env)
        assert (status, stderr) == (0, b"")
        listed = {line.split(b"\t")[0].decode() for line in stdout.splitlines()}
        assert set(names) <= listed and stdout.endswith(b"\n.\n")
    finally:
        for name in names:
            conn.command(b"drop function " + name.encode())
        conn.close()


@pytest.fixture(scope="module")
def tls_server(certs: Certs) -> Iterator[ServerProcess]:
    server = start_server("gearmand-py", ["-t", "0", *tls_args(certs)], tls=tls_context(
        str(certs.ca), str(certs.client_cert), str(certs.client_key)))
    yield server
    server.stop()


def test_missing_or_unusable_files(tls_server: ServerProcess, certs: Certs,
                                   tmp_path: Path) -> None:
    """libgearman's wording: gearadmin's ``Error loading ...`` (exit 1); libgearman's client
    aborts where gearman-py says what ``universal.cc`` would have (exit 1)."""
    missing = tmp_path / "missing.pem"
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    cases = [
        (dict(ca=missing), f"Failed to open CA certificate {missing} "
                           "(2: No such file or directory)", f"Error loading CA file {missing}"),
        (dict(ca=not_pem), f"Failed to load CA certificate {not_pem}",
         f"Error loading CA file {not_pem}"),
        (dict(cert=missing), f"Failed to open certificate {missing} "
                             "(2: No such file or directory)",
         f"Error loading certificate file {missing}"),
        (dict(cert=not_pem), f"Failed to load certificate {not_pem}",
         f"Error loading certificate file {not_pem}"),
        (dict(key=missing), f"Failed to open certificate key {missing} "
                            "(2: No such file or directory)",
         f"Error loading private key file {missing}"),
        (dict(key=not_pem), f"Failed to load certificate key {not_pem}",
         f"Error loading private key file {not_pem}"),
        (dict(key=certs.other_key), "Failed to check private key", "Error checking private key"),
    ]
    for files, client_line, admin_line in cases:
        env = env_for(certs, **files)
        assert run(GEARMAN_PY, ["-S", *at(tls_server), "-f", "x", "-s"], env=env) == \
            (1, b"", f"gearman: -S: {client_line}\n".encode())
        assert run(GEARADMIN_PY, ["-S", *at(tls_server), "--status"], env=env) == \
            (1, b"", f"Error: {admin_line}\n".encode())


def test_defaults_are_libgearmans_files(tls_server: ServerProcess) -> None:
    """Nothing in the environment: /etc/ssl/certs/gearmand-ca.pem first (not on this
    machine)."""
    env = {k: v for k, v in repo_env().items() if not k.startswith(("GEARMAND_", "GEARMAN_"))}
    assert not os.path.exists("/etc/ssl/certs/gearmand-ca.pem")
    assert run(GEARADMIN_PY, ["-S", *at(tls_server), "--status"], env=env) == \
        (1, b"", b"Error: Error loading CA file /etc/ssl/certs/gearmand-ca.pem\n")


def test_refused_certificates_and_plaintext_servers(tls_server: ServerProcess, certs: Certs,
                                                    ) -> None:
    """A client certificate the server does not trust, and -S against a plaintext server: the
    TLS reason in libgearman's GEARMAN_LOST_CONNECTION line (gearman: exit 0, as for any
    connection error; gearadmin: exit 1)."""
    stranger = env_for(certs, cert=certs.stranger_cert, key=certs.stranger_key)
    status, stdout, stderr = run(GEARMAN_PY, ["-S", *at(tls_server), "-f", "x", "-s"],
                                 env=stranger)
    assert (status, stdout) == (0, b"")
    assert stderr.startswith(b"gearman: gearman_client_run_tasks : flush(GEARMAN_LOST_"
                             b"CONNECTION) SSL failure(") and b"client certificate" in stderr
    status, stdout, stderr = run(GEARADMIN_PY, ["-S", *at(tls_server), "--status"],
                                 env=stranger)
    assert (status, stdout) == (1, b"") and b"client certificate" in stderr
    plain = start_server("gearmand-py", ["-t", "0"])
    try:
        env = env_for(certs)
        status, stdout, stderr = run(GEARMAN_PY, ["-S", *at(plain), "-f", "x", "-s"], env=env)
        assert (status, stdout) == (0, b"") and b"does not speak TLS" in stderr
        status, stdout, stderr = run(GEARADMIN_PY, ["-S", *at(plain), "--status"], env=env)
        assert (status, stdout) == (1, b"") and b"does not speak TLS" in stderr
    finally:
        plain.stop()


def stderr_lines(proc: subprocess.Popen[bytes], count: int) -> list[bytes]:
    """The first ``count`` lines ``proc`` writes to stderr; fails after TIMEOUT seconds."""
    assert proc.stderr is not None
    fd, text = proc.stderr.fileno(), b""
    deadline = time.monotonic() + TIMEOUT
    while text.count(b"\n") < count:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"only {text!r} in {TIMEOUT}s"
        chunk = os.read(fd, 4096)
        assert chunk, f"stderr closed after {text!r}"
        text += chunk
    return text.splitlines(keepends=True)[:count]


def test_a_server_certificate_for_another_host_is_refused(certs: Certs) -> None:
    """The certificate is the CA's, but names elsewhere.example, not the host given with -h:
    both tools refuse to talk, naming the mismatch (libgearman would not check)."""
    probe = ssl.create_default_context(cafile=str(certs.ca))
    probe.check_hostname = False  # start_server's readiness probe connects to "localhost"
    server = start_server("gearmand-py", ["-t", "0", "--ssl", "--ssl-certificate",
                                          str(certs.elsewhere_cert), "--ssl-key",
                                          str(certs.elsewhere_key)], tls=probe)
    try:
        env = env_for(certs)
        status, stdout, stderr = run(GEARMAN_PY, ["-S", *at(server), "-f", "x", "-s"], env=env)
        assert (status, stdout) == (0, b"")
        assert b"server certificate not accepted: Hostname mismatch" in stderr, stderr
        status, stdout, stderr = run(GEARADMIN_PY, ["-S", *at(server), "--status"], env=env)
        assert (status, stdout) == (1, b"")
        assert b"server certificate not accepted: Hostname mismatch" in stderr, stderr
    finally:
        server.stop()


def test_a_worker_whose_certificate_is_refused_says_so_while_it_retries(
        tls_server: ServerProcess, certs: Certs) -> None:
    """gearman-py -S -w with a certificate the server does not trust keeps trying (the server
    may be given the CA later) and says why on every try, as libgearman's worker does for a
    server it cannot reach; it never registers."""
    stranger = env_for(certs, cert=certs.stranger_cert, key=certs.stranger_key)
    worker = subprocess.Popen([*GEARMAN_PY, "-S", "-w", *at(tls_server), "-f", "refused"],
                              env=stranger, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        lines = stderr_lines(worker, 2)
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait()
    for line in lines:
        assert line.startswith(b"gearman: gearman_worker_work : localhost:"), lines
        assert b"client certificate" in line, lines
    conn = TextConnection(Address(*tls_server.address), 5, tls_server.tls)
    try:
        assert b"refused" not in b"".join(conn.command(b"workers"))
    finally:
        conn.close()


def test_a_worker_reports_each_try_at_a_server_that_is_down() -> None:
    """libgearman's worker prints its COULD_NOT_CONNECT line in a loop without pause; ours
    prints the same line once per try of its backoff."""
    free = start_server("gearmand-py", ["-t", "0"])
    port = free.port
    free.stop()
    worker = subprocess.Popen([*GEARMAN_PY, "-w", "-h", "127.0.0.1", "-p", str(port),
                               "-f", "x"], env=repo_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        [line] = stderr_lines(worker, 1)
    finally:
        worker.kill()
        worker.wait()
    assert re.fullmatch(rb"gearman: gearman_worker_work : flush\(GEARMAN_COULD_NOT_CONNECT\) "
                        rb"Connection to 127\.0\.0\.1:%d failed -> libgearman/connection\.cc:"
                        rb"724: pid\(\d+\)\n" % port, line), line
