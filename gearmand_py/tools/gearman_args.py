"""gearman's command line (libgearman 1.1.20 ``bin/arguments.cc``) and its usage text.

Numbers are read with C's ``atoi`` and then narrowed to the C type gearman stores them in, so
``-p 70000`` and ``-c -1`` mean what they mean to gearman.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gearmand_py.client.jobs import to_bytes
from gearmand_py.client.servers import DEFAULT_PORT, Address, parse_address
from gearmand_py.protocol.numbers import atoi
from gearmand_py.tools.getopt_short import BAD, getopt

OPTIONS = "bc:f:h:HILnNp:Pst:u:vwi:dS"
NORMAL, HIGH, LOW = None, "HIGH", "LOW"


@dataclass
class Args:
    """What the options asked for; ``operands`` are the data (client) or command (worker)."""

    functions: list[str] = field(default_factory=list)
    host: str | None = None
    port: int = 0
    count: int = 0
    unique: str | None = None
    job_per_newline: bool = False
    strip_newline: bool = False
    worker: bool = False
    suppress_input: bool = False
    verbose: bool = False
    prefix: bool = False
    background: bool = False
    daemon: bool = False
    usage: bool = False
    ssl: bool = False
    bad_option: str | None = None
    priority: str | None = NORMAL
    #: Milliseconds; negative: wait forever.
    timeout: int = -1
    pid_file: str = ""
    operands: list[str] = field(default_factory=list)

    @property
    def usage_error(self) -> str | None:
        """What usage() reports in its first line; no functions outranks a bad option."""
        return "No Functions were provided" if not self.functions else self.bad_option


def parse(argv: Sequence[str]) -> Args:
    options, operands = getopt(argv, OPTIONS)
    args = Args(operands=operands)
    for option, value in options:
        text = value or ""
        if option == BAD:
            args.bad_option = "-?"
        elif option == "f":
            args.functions.append(text)
        elif option == "h":
            args.host = text
        elif option == "p":
            args.port = atoi(to_bytes(text)) & 0xFFFF
        elif option == "c":
            args.count = atoi(to_bytes(text)) & 0xFFFFFFFF
        elif option == "t":
            args.timeout = atoi(to_bytes(text))
        elif option == "u":
            args.unique = text
        elif option == "i":
            args.pid_file = text
        elif option in "IL":
            args.priority = HIGH if option == "I" else LOW
        elif option == "N":
            args.job_per_newline = args.strip_newline = True
        else:
            setattr(args, _SWITCHES[option], True)
    return args


_SWITCHES = {"b": "background", "d": "daemon", "n": "job_per_newline", "P": "prefix",
             "s": "suppress_input", "w": "worker", "H": "usage", "v": "verbose", "S": "ssl"}


def usage(args: Args, program: str) -> str:
    """gearman's usage text; the ``(true)``/``(false)`` flags show what was parsed."""
    def flag(value: bool) -> str:
        return "true" if value else "false"
    return f"""
{program}\tError in usage({args.usage_error or "(null)"}).

Client mode: {program} [options] [<data>]
Worker mode: {program} -w [options] [<command> [<args> ...]]

Common options to both client and worker modes.
\t-f <function> - Function name to use for jobs (can give many)
\t-h <host>     - Job server host
\t-H            - Print this help menu
\t-v            - Print diagnostic information to stdout({flag(args.verbose)})
\t-p <port>     - Job server port
\t-t <timeout>  - Timeout in milliseconds
\t-i <pidfile>  - Create a pidfile for the process
\t-S            - Enable SSL connections

Client options:
\t-b            - Run jobs in the background({flag(args.background)})
\t-I            - Run jobs as high priority
\t-L            - Run jobs as low priority
\t-n            - Run one job per line({flag(args.job_per_newline)})
\t-N            - Same as -n, but strip off the newline({flag(args.strip_newline)})
\t-P            - Prefix all output lines with functions names
\t-s            - Send job without reading from standard input
\t-u <unique>   - Unique key to use for job

Worker options:
\t-c <count>    - Number of jobs for worker to run before exiting
\t-n            - Send data packet for each line({flag(args.job_per_newline)})
\t-N            - Same as -n, but strip off the newline({flag(args.strip_newline)})
\t-w            - Run in worker mode({flag(args.worker)})
"""


def servers(args: Args, environ: Mapping[str, str]) -> tuple[list[Address], str]:
    """The servers gearman uses, and the label it names them by when one is bad: libgearman
    adds ``GEARMAN_SERVERS`` itself, then gearman adds ``GEARMAN_SERVER`` or ``-h``/``-p``."""
    listed = [spec for spec in environ.get("GEARMAN_SERVERS", "").split(",") if spec]
    if "GEARMAN_SERVER" in environ:
        listed += [spec for spec in environ["GEARMAN_SERVER"].split(",") if spec]
        label = "Error occurred while parsing GEARMAN_SERVER"
    else:
        listed.append((args.host or "localhost", args.port or DEFAULT_PORT))
        label = f"gearman_{'worker' if args.worker else 'client'}_add_server"
    return [parse_address(spec) for spec in listed], label
