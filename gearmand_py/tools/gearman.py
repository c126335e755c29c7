"""gearman-py: libgearman 1.1.20's ``gearman`` client and worker, with the same stdout, stderr
and exit status on the same input, built on ``gearmand_py.client``.

As in gearman, ``-H`` wins over every error (exit status 0, the usage on stderr when the command
line was bad), no ``-f`` or a bad option prints the usage with the reason on stderr (status 1),
a server that does not resolve stops a worker with status 1 and a client with 0, and a server
that is down or too slow is reported per job without changing the exit status.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
from collections.abc import Sequence

from gearmand_py.client.servers import Address
from gearmand_py.tools import gearman_client, gearman_output, gearman_worker, tls
from gearmand_py.tools.gearman_args import Args, parse, servers, usage


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    program = os.path.basename(sys.argv[0]) or "gearman-py"
    args = parse(argv)
    if args.usage or args.usage_error:
        text = usage(args, program).encode("utf-8", "surrogateescape")
        gearman_output.write_all(2 if args.usage_error else 1, text)
        return 1 if args.usage_error and not args.usage else 0
    context = None
    if args.ssl:
        try:
            context = tls.context(os.environ, tls.GEARMAN)
        except tls.TlsSetupError as exc:
            # libgearman abort()s here, at its first connection; this says why, at once.
            gearman_output.stderr(f"{program}: -S: {exc}\n")
            return 1
    if args.daemon:
        _daemonize()
    try:
        addresses, label = servers(args, os.environ)
    except ValueError as exc:
        gearman_output.message("Error occurred while parsing GEARMAN_SERVER", str(exc))
        return 1 if args.worker else 0
    failed = _unresolvable(addresses)
    if failed:
        gearman_output.message(label, failed)
        return 1 if args.worker else 0
    if args.pid_file:
        try:
            _write_pid_file(args.pid_file)
        except OSError as exc:
            gearman_output.perror(f"Could not open pid file for writing: {args.pid_file}", exc)
            return 1
    try:
        return _run(args, addresses, context)
    finally:
        if args.pid_file:
            _remove(args.pid_file)


def _run(args: Args, addresses: list[Address], context: ssl.SSLContext | None) -> int:
    if args.worker:
        return gearman_worker.run(args, addresses, context)
    return gearman_client.run(args, addresses, sys.stdin.buffer, context)


def _unresolvable(addresses: list[Address]) -> str | None:
    """libgearman resolves each server when it is added, before any work."""
    for address in addresses:
        try:
            socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            return gearman_output.unresolvable(address, exc.strerror or str(exc))
    return None


def _daemonize() -> None:
    """``-d``: gearman's fork, setsid and stdio on /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _write_pid_file(path: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o744)
    with os.fdopen(fd, "w") as pid_file:
        pid_file.write(f"{os.getpid()}\n")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


if __name__ == "__main__":
    raise SystemExit(main())
