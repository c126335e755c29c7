"""gearadmin-py: gearmand 1.1.20's ``gearadmin`` with the same output and exit status, plus
``--maxqueue`` and ``--shutdown`` (which gearadmin 1.1.20 lacks).

gearadmin sends one text command per option over one connection and takes as a command's reply
whatever arrives until the socket has been quiet for 5 ms; it prints ``OK`` for a bare ``OK``,
the rest of an ``OK <value>`` line, ``Error: <rest>`` on stderr for ``ERR <rest>`` (and goes
on), and any other reply as it came. A connection or read failure stops it with exit status 1.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import sys
from collections.abc import Sequence

from gearmand_py.client.connection import CONNECT_TIMEOUT, handshake, tls_alert
from gearmand_py.client.errors import ConnectionLost
from gearmand_py.client.servers import DEFAULT_PORT, Address
from gearmand_py.client.tls import closed_after_handshake, describe
from gearmand_py.tools import tls
from gearmand_py.tools.options import Option, UsageError, parse

OPTIONS = [
    Option("help", None, False), Option("host", "h", True), Option("port", "p", True),
    Option("server-version", None, False), Option("server-verbose", None, False),
    Option("create-function", None, True), Option("cancel-job", None, True),
    Option("drop-function", None, True), Option("show-unique-jobs", None, False),
    Option("show-jobs", None, False), Option("getpid", None, False),
    Option("status", None, False), Option("priority-status", None, False),
    Option("workers", None, False), Option("maxqueue", None, True),
    Option("shutdown", None, False), Option("ssl", "S", False),
]

HELP = """\
Options:
  --help                         Options related to the program.
  -h [ --host ] arg (=localhost) Connect to the host
  -p [ --port ] arg (=4730)      Port number or service to use for connection
  --server-version               Fetch the version number for the server.
  --server-verbose               Fetch the verbose setting for the server.
  --create-function arg          Create the function from the server.
  --cancel-job arg               Remove a given job from the server's queue
  --drop-function arg            Drop the function from the server.
  --show-unique-jobs             Show unique IDs of jobs on the server.
  --show-jobs                    Show all jobs on the server.
  --getpid                       Get Process ID for the server.
  --status                       Status for the server.
  --priority-status              Queued jobs status by priority.
  --workers                      Workers for the server.
  --maxqueue arg                 Set a function's queue limit: "FUNCTION [SIZE
                                 | HIGH NORMAL LOW]" (none: unlimited).
  --shutdown                     Stop the server (gearmand-py; gearmand 1.1.20
                                 has no such command).
  -S [ --ssl ]                   Enable SSL connections.
"""

#: Each option's command, in the order gearadmin runs them (the reverse of its source order);
#: ``--maxqueue`` runs with the other changes, ``--shutdown`` last of all.
COMMANDS: list[tuple[str, str]] = [
    ("getpid", "getpid"), ("create-function", "create function "),
    ("maxqueue", "maxqueue "), ("drop-function", "drop function "),
    ("show-jobs", "show jobs"), ("show-unique-jobs", "show unique jobs"),
    ("cancel-job", "cancel job "), ("server-verbose", "verbose"),
    ("server-version", "version"), ("workers", "workers"),
    ("priority-status", "prioritystatus"), ("status", "status"), ("shutdown", "shutdown"),
]
#: gearadmin's read size (BUFSIZ) and how long the socket must stay quiet to end a reply.
READ_SIZE = 8192
QUIET_MS = 5


class Failed(Exception):
    """What ends the run with ``Error: <message>`` and exit status 1."""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    program = os.path.basename(sys.argv[0]) or "gearadmin-py"
    try:
        given = parse(argv, OPTIONS)
    except UsageError as exc:
        sys.stdout.write(f"{program} : {exc}\n\n{HELP}\n")
        return 1
    if "help" in given:
        sys.stdout.write(HELP + "\n")
        return 0
    commands = [(prefix + (given[name] or "")).encode("utf-8", "surrogateescape")
                for name, prefix in COMMANDS if name in given]
    if not commands:
        sys.stdout.write(f"No option execution operation given.\n\n{HELP}\n")
        return 1
    host, port = given.get("host") or "localhost", given.get("port") or str(DEFAULT_PORT)
    try:
        context = tls.context(os.environ, tls.GEARADMIN) if "ssl" in given else None
        run(host, port, commands, ends_connection="shutdown" in given, context=context)
    except (tls.TlsSetupError, Failed) as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    return 0


def run(host: str, port: str, commands: list[bytes], ends_connection: bool,
        context: ssl.SSLContext | None = None) -> None:
    """Send each command and print its reply as gearadmin does; over TLS with ``context``."""
    sock = connect(host, port)
    if context is not None:
        sock = _over_tls(context, sock, host, port)
    out, err = sys.stdout.buffer, sys.stderr.buffer
    try:
        for index, command in enumerate(commands):
            try:
                sock.sendall(command + b"\r\n")
            except OSError as exc:
                if context is not None and index == 0:  # a refused client certificate
                    raise Failed(tls_alert(sock) or closed_after_handshake(exc)) from exc
                raise Failed(f"Failed during send({os.strerror(exc.errno or 0)})") from exc
            last = ends_connection and index == len(commands) - 1
            reply = read_reply(sock, host, eof_ends=last)
            if reply.startswith(b"OK\r"):
                out.write(b"OK\n")
            elif reply.startswith(b"OK "):
                out.write(reply[3:])
            elif reply.startswith(b"ERR "):
                out.flush()
                err.write(b"Error: " + reply[4:])
                err.flush()
            else:
                out.write(reply)
            out.flush()
    finally:
        sock.close()


def connect(host: str, port: str) -> socket.socket:
    """The first address of ``host`` that accepts, as gearadmin walks getaddrinfo's list."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise Failed(f"Failed to connect on {host}:{port} with {exc.strerror}") from exc
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            continue
        return sock
    raise Failed(f"Error connecting to {host}.\n")


def _over_tls(context: ssl.SSLContext, sock: socket.socket, host: str,
              port: str) -> ssl.SSLSocket:
    """``sock`` after its TLS handshake (bounded by the library's connect timeout; gearadmin's
    own waits for ever), blocking again as gearadmin's socket is."""
    sock.setblocking(False)
    address = Address(host, port)  # type: ignore[arg-type]  # a service name may do
    try:
        tls_sock = handshake(context, sock, address, CONNECT_TIMEOUT)
    except ConnectionLost as exc:
        raise Failed(str(exc)) from exc
    tls_sock.setblocking(True)
    return tls_sock


def read_reply(sock: socket.socket, host: str, eof_ends: bool) -> bytes:
    """What arrives until the socket is quiet for QUIET_MS; EOF fails the run unless
    ``eof_ends`` (a shutdown's reply is followed by the server closing)."""
    reply = b""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    while True:
        try:
            chunk = sock.recv(READ_SIZE)
        except ssl.SSLError as exc:  # gearadmin: OpenSSL's error string
            raise Failed(describe(exc)) from exc
        except OSError as exc:
            raise Failed(f"Error occurred while reading data from {host}") from exc
        if not chunk:
            if eof_ends and reply:
                return reply
            raise Failed(f"Socket was shutdown while reading from {host}")
        reply += chunk
        # Over TLS, what the TLS layer already decrypted is not seen by poll.
        if not (isinstance(sock, ssl.SSLSocket) and sock.pending()) and not poller.poll(QUIET_MS):
            return reply


if __name__ == "__main__":
    raise SystemExit(main())
