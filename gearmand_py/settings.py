"""Every gearmand option, declared once.

gearmand-py must accept exactly the command lines and config files that gearmand 1.1.20 accepts,
so each option is one :class:`Setting` in :data:`SETTINGS`. The parser (:func:`build_parser`),
``--help`` and the sample ``conf/gearmand.conf`` (:func:`render_config`) are all built from that
list, so they cannot drift apart. ``python -m gearmand_py.settings`` prints the sample config.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import textwrap
from dataclasses import dataclass, fields
from typing import IO, Any, Callable, Mapping, NoReturn, Sequence

import configargparse

from gearmand_py import __version__
from queue_backends import registry

GEARMAND_VERSION = "1.1.20"
PROG = "gearmand-py"

DEFAULT_CONFIG_FILE = "/etc/gearmand.conf"
DEFAULT_LOG_FILE = "/var/log/gearmand.log"
DEFAULT_PID_FILE = "/var/gearmand.pid"
HTTP_PORT = 8080
#: Seconds a shared queue's server holds its jobs without renewing them (--shared-queue-lease).
DEFAULT_LEASE = 10
#: gearmand's TLS files ($(sysconfdir)/ssl/certs/...), and the environment variables that
#: override them when the option is not given.
DEFAULT_SSL_FILES = {
    "ssl_ca_file": ("/etc/ssl/certs/gearmand-ca.pem", "GEARMAND_CA_CERTIFICATE"),
    "ssl_certificate": ("/etc/ssl/certs/gearmand.pem", "GEARMAND_SERVER_PEM"),
    "ssl_key": ("/etc/ssl/certs/gearmand.key", "GEARMAND_SERVER_KEY"),
}

#: gearmand's --verbose levels, most severe first.
VERBOSE_LEVELS = ("FATAL", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG")

# Help sections, named as gearmand names them in --help.
GENERAL = "General options"
HTTP = "HTTP"
GEAR = "Gear"
ADDITIONS = "gearmand-py additions"


def version_text() -> str:
    """What -V/--version prints."""
    return f"{PROG} {__version__} (gearmand {GEARMAND_VERSION} compatible)"


# ---------------------------------------------------------------------------------------------
# Value types: each turns one command-line token into a value or explains why it cannot.


def _int_in(low: int | None, high: int | None, what: str) -> Callable[[str], int]:
    """An int type bounded like gearmand's (or gearmand-py's) checks, with a readable error."""

    def convert(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: {what}")
        return value

    return convert


def _keepalive_value(text: str) -> int:
    """-1 (leave the OS value) or a positive number, as the TCP_KEEP* socket options need."""
    value = _int_in(-1, None, "must be -1 or greater than 0")(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 is out of range: must be -1 or greater than 0")
    return value


def _hashtable_buckets(text: str) -> int:
    """gearmand's own check and wording."""
    value = _int_in(None, None, "")(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("has to be greater than 0")
    return value


def _verbose_level(text: str) -> str:
    """Level names are matched case-insensitively and stored upper-case, as gearmand prints them."""
    level = text.upper()
    if level not in VERBOSE_LEVELS:
        raise argparse.ArgumentTypeError(
            f"Invalid value for --verbose supplied: {text!r} "
            f"(use one of {', '.join(VERBOSE_LEVELS)})")
    return level


def _queue_type(text: str) -> str:
    """gearmand looks queue modules up case-insensitively; store the lower-case name. (A type
    gearmand-py knows but cannot offer is refused at startup, with the other refusals.)"""
    try:
        registry.find(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.lower()


_port = _int_in(1, 65535, "a port is 1..65535")
_uint8 = _int_in(0, 255, "must be 0..255 (gearmand keeps it in 8 bits)")
_positive = _int_in(1, None, "must be greater than 0")
_non_negative = _int_in(0, None, "must be 0 or greater")


class _DeprecatedV(argparse.Action):
    """gearmand dropped -v; it says so and exits 1 rather than guessing a level."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        parser.exit(1, f"{parser.prog}: Option -v has been deprecated, please use --verbose\n")


# ---------------------------------------------------------------------------------------------
# The declarations.


@dataclass(frozen=True)
class Setting:
    """One option: its flags, value type and default exactly as gearmand has them.

    ``hidden`` options are left out of --help and the sample config, as gearmand hides them.
    ``cli_only`` options make no sense inside a config file and are refused there.
    """

    name: str
    flags: tuple[str, ...]
    help: str
    default: Any = None
    type: Callable[[str], Any] | None = None
    action: str | type[argparse.Action] = "store"
    meta: str | None = None
    section: str = GENERAL
    hidden: bool = False
    cli_only: bool = False

    @property
    def long_flag(self) -> str:
        """The ``--name`` form, used in messages and the sample config."""
        return self.flags[-1]

    @property
    def takes_value(self) -> bool:
        return self.action == "store"


_KEEPALIVE_HELP = ("If keepalive is enabled, set the value for {opt} for systems that support it. "
                   "A value of -1 means that either the system does not support it or an error "
                   "occurred when trying to retrieve the default value.")

def _queue_options() -> list[Setting]:
    """The queue backends' options, as each backend declares them (``queue_backends.registry``),
    in the backend's --help section."""
    return [Setting(o.name, (o.flag,), o.help, default=o.default,
                    type=_port if o.port else None,
                    action="store" if o.meta else "store_true", meta=o.meta,
                    section=backend.section)
            for backend in registry.BACKENDS for o in backend.options]


SETTINGS: tuple[Setting, ...] = (
    Setting("backlog", ("-b", "--backlog"),
            "Number of backlog connections for listen. gearmand-py defaults to 4096 (gearmand: "
            "32; the kernel caps it at net.core.somaxconn): with 32, clients reconnecting "
            "quickly overflow the queue and each overflow costs a client a one-second retry.",
            default=4096, type=_non_negative, meta="N"),
    Setting("daemon", ("-d", "--daemon"),
            "Daemon, detach and run in the background. The command returns once the server "
            "serves (exit 0), or fails with the server's error.",
            default=False, action="store_true"),
    Setting("exceptions", ("--exceptions",), "Enable protocol exceptions by default.",
            default=False, action="store_true"),
    Setting("file_descriptors", ("-f", "--file-descriptors"),
            "Number of file descriptors to allow for the process (total connections will be "
            "slightly less). Default is max allowed for user.",
            type=_positive, meta="N"),
    Setting("help", ("-h", "--help"), "Print this help menu.", action="help", cli_only=True),
    Setting("job_retries", ("-j", "--job-retries"),
            "Number of attempts to run the job before the job server removes it. This is helpful "
            "to ensure a bad job does not crash all available workers. 0 means no limit. 0..255: "
            "gearmand keeps it in 8 bits.",
            default=0, type=_uint8, meta="N"),
    Setting("job_handle_prefix", ("--job-handle-prefix",),
            'Prefix used to generate a job handle string. If not provided, the default '
            '"H:<host_name>" is used.',
            meta="PREFIX"),
    Setting("hashtable_buckets", ("--hashtable-buckets",),
            "Number of buckets in gearmand's internal job hash tables. Accepted for "
            "compatibility and otherwise ignored: Python dicts size themselves. Must be "
            "greater than 0, as gearmand requires.",
            default=991, type=_hashtable_buckets, meta="N"),
    Setting("keepalive", ("--keepalive",), "Enable keepalive on sockets.",
            default=False, action="store_true"),
    Setting("keepalive_idle", ("--keepalive-idle",), _KEEPALIVE_HELP.format(opt="TCP_KEEPIDLE"),
            default=-1, type=_keepalive_value, meta="SECONDS"),
    Setting("keepalive_interval", ("--keepalive-interval",),
            _KEEPALIVE_HELP.format(opt="TCP_KEEPINTVL"),
            default=-1, type=_keepalive_value, meta="SECONDS"),
    Setting("keepalive_count", ("--keepalive-count",), _KEEPALIVE_HELP.format(opt="TCP_KEEPCNT"),
            default=-1, type=_keepalive_value, meta="N"),
    Setting("log_file", ("-l", "--log-file"),
            "Log file to write errors and information to. If the log-file parameter is specified "
            "as 'stderr', then output will go to stderr. If 'none', then no logfile will be "
            "generated. If the default file cannot be opened, the log goes to stderr.",
            default=DEFAULT_LOG_FILE, meta="FILE"),
    Setting("listen", ("-L", "--listen"),
            "Address the server should listen on. Default is INADDR_ANY.", meta="ADDRESS"),
    Setting("pid_file", ("-P", "--pid-file"),
            "File to write process ID out to. Failing to write it is an error only for a path "
            "other than the default.",
            default=DEFAULT_PID_FILE, meta="FILE"),
    Setting("protocol", ("-r", "--protocol"),
            "Load protocol module: 'http' serves gearmand's HTTP protocol on --http-port, "
            "besides the Gear port.",
            meta="MODULE"),
    Setting("round_robin", ("-R", "--round-robin"),
            "Assign work in round-robin order per worker connection. The default is to assign "
            "work in the order of functions added by the worker.",
            default=False, action="store_true"),
    Setting("queue_type", ("-q", "--queue-type"),
            f"Persistent queue type to use (any case): {registry.described_types()}. builtin "
            "keeps jobs in memory only.",
            default="builtin", type=_queue_type, meta="TYPE"),
    Setting("config_file", ("--config-file",),
            "Read options from this file. Can be specified with '@name', too. A missing default "
            "file is ignored; a missing file given here is an error.",
            default=DEFAULT_CONFIG_FILE, meta="FILE", cli_only=True),
    Setting("syslog", ("--syslog",), "Use syslog (through /dev/log).",
            default=False, action="store_true"),
    Setting("coredump", ("--coredump",), "Whether to create a core dump for uncaught signals.",
            default=False, action="store_true"),
    Setting("threads", ("-t", "--threads"),
            "Number of I/O threads to use; 0 runs the I/O and the processing in one thread, "
            "1 in one thread beside the listener (as gearmand), 2 or more beside one "
            "processing thread. "
            "gearmand-py defaults to 0 (gearmand: 4): under Python's global interpreter lock "
            "extra threads cost more in hand-offs than they gain (docs/benchmarks.md).",
            default=0, type=_non_negative, meta="N"),
    Setting("user", ("-u", "--user"),
            "Switch to given user after startup. gearmand-py switches after binding the ports "
            "(gearmand: before), so ports below 1024 work; the log file, pid file and SQLite "
            "database are handed to the user.",
            meta="USER"),
    Setting("verbose", ("--verbose",),
            f"Set verbose level ({', '.join(VERBOSE_LEVELS)}; any case).",
            default="ERROR", type=_verbose_level, meta="LEVEL"),
    Setting("deprecated_v", ("-v",), "Deprecated; use --verbose.", action=_DeprecatedV,
            hidden=True),
    Setting("version", ("-V", "--version"), "Display the version of gearmand-py and exit.",
            action="version", cli_only=True),
    Setting("worker_wakeup", ("-w", "--worker-wakeup"),
            "Number of workers to wakeup for each job received. 0, the default, wakes up all "
            "available workers. 0..255: gearmand keeps it in 8 bits.",
            default=0, type=_uint8, meta="N"),
    Setting("check_args", ("--check-args",), "Check the options, then exit 0.",
            default=False, action="store_true", hidden=True),
    Setting("http_port", ("--http-port",),
            f"Port to listen on with -r http (default: {HTTP_PORT}); TLS too with --ssl.",
            type=_port, meta="PORT", section=HTTP),
    Setting("port", ("-p", "--port"), "Port the server should listen on.",
            default=4730, type=_port, meta="PORT", section=GEAR),
    Setting("ssl", ("--ssl",),
            "Enable ssl connections: every connection to the Gear port (admin commands "
            "included) is TLS, and so is the HTTP port's.",
            default=False, action="store_true", section=GEAR),
    Setting("ssl_ca_file", ("--ssl-ca-file",),
            "CA file: the certificates client certificates are checked against with "
            "--ssl-verify-clients. Default: $GEARMAND_CA_CERTIFICATE, else "
            f"{DEFAULT_SSL_FILES['ssl_ca_file'][0]}.",
            meta="FILE", section=GEAR),
    Setting("ssl_certificate", ("--ssl-certificate",),
            "SSL certificate (PEM; may hold the chain after it). Default: $GEARMAND_SERVER_PEM, "
            f"else {DEFAULT_SSL_FILES['ssl_certificate'][0]}.",
            meta="FILE", section=GEAR),
    Setting("ssl_key", ("--ssl-key",),
            "SSL key for certificate (PEM). Default: $GEARMAND_SERVER_KEY, else "
            f"{DEFAULT_SSL_FILES['ssl_key'][0]}.",
            meta="FILE", section=GEAR),
    *_queue_options(),
    Setting("queue_url", ("--queue-url",),
            "Any SQLAlchemy database URL for the persistent queue (e.g. "
            "postgresql://user@host/db); with -q builtin it turns persistence on, otherwise it "
            "must match -q. The table comes from that backend's table option.",
            meta="URL", section=ADDITIONS),
    Setting("ssl_verify_clients", ("--ssl-verify-clients",),
            "With --ssl: require a client certificate signed by the CA file on every "
            "connection (mutual TLS); its subject is logged at --verbose INFO. gearmand never "
            "checks client certificates.",
            default=False, action="store_true", section=ADDITIONS),
    Setting("ssl_handshake_timeout", ("--ssl-handshake-timeout",),
            "With --ssl: close a connection whose TLS handshake is not done this many seconds "
            "after it was accepted, so a client that connects and sends nothing does not hold "
            "a descriptor. gearmand has no limit.",
            default=10, type=_positive, meta="SECONDS", section=ADDITIONS),
    Setting("monitor_port", ("--monitor-port",),
            "Serve Prometheus metrics (/metrics), a live status page (/), its data as JSON "
            "(/api/status) and /healthz on this port (HTTPS with --ssl); off by default.",
            type=_port, meta="PORT", section=ADDITIONS),
    Setting("monitor_listen", ("--monitor-listen",),
            "Address the monitor port listens on (default 127.0.0.1: job names and data are "
            "not for everyone).",
            default="127.0.0.1", meta="ADDR", section=ADDITIONS),
    Setting("shared_queue", ("--shared-queue",),
            "Share the persistent queue with other gearmand-py servers on the same PostgreSQL "
            "or MySQL/MariaDB table: a background job submitted to any of them runs on a "
            "worker of any of them, and the jobs of a server that dies run elsewhere once its "
            "lease runs out. gearmand cannot share a queue.",
            default=False, action="store_true", section=ADDITIONS),
    Setting("shared_queue_lease", ("--shared-queue-lease",),
            "With --shared-queue: seconds after which the other servers take over the jobs of "
            f"a server that stopped renewing them (default {DEFAULT_LEASE}).",
            type=_int_in(1, 3600, "a lease is 1..3600 seconds"), meta="SECONDS",
            section=ADDITIONS),
    Setting("max_packet_size", ("--max-packet-size",),
            "Largest binary protocol packet, in bytes, that the server accepts; 64 MiB by "
            "default. gearmand has no limit, so a client could make it buffer any amount.",
            default=64 * 1024 * 1024, type=_positive, meta="BYTES", section=ADDITIONS),
)

SECTIONS = (GENERAL, HTTP, GEAR, *(b.section for b in registry.BACKENDS if b.options), ADDITIONS)


# ---------------------------------------------------------------------------------------------
# Parsing.


class _Parser(configargparse.ArgumentParser):
    """Reports errors the gearmand way: one line on stderr, exit status 1 (argparse uses 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {message}\n")


class _CommandLineOnly(argparse.Action):
    """Stands in for -h, -V and --config-file inside a config file, where they make no sense."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", default=argparse.SUPPRESS)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        parser.error(f"{option_string} can only be given on the command line")


class _TokenParser(argparse.ArgumentParser):
    """Turns argparse's errors into configargparse's, so they name the file."""

    def error(self, message: str) -> NoReturn:
        raise configargparse.ConfigFileParserException(message)


class ConfigFileTokens(configargparse.ConfigFileParser):
    """gearmand's config file: command-line options separated by whitespace.

    configargparse wants key/value items, so the tokens go through a plain argparse parser
    with the same flags (without types, so values stay the text the user wrote); configargparse
    then puts them in front of the command line, where the command line overrides them.
    """

    def __init__(self, settings: Sequence[Setting]) -> None:
        self._settings = [s for s in settings if not s.cli_only]
        self._parser = _TokenParser(prog=PROG, add_help=False, allow_abbrev=False,
                                    argument_default=argparse.SUPPRESS)
        for s in settings:
            action = _CommandLineOnly if s.cli_only else s.action
            self._parser.add_argument(*s.flags, dest=s.name, action=action)

    def get_syntax_description(self) -> str:
        return ("The config file holds command-line options separated by whitespace; lines "
                "starting with # are comments.")

    def parse(self, stream: IO[str]) -> dict[str, str]:
        tokens: list[str] = []
        try:
            for line in stream:
                if not line.lstrip().startswith("#"):
                    tokens += line.split()
        except UnicodeDecodeError as e:
            raise configargparse.ConfigFileParserException(
                f"config file {getattr(stream, 'name', '?')}: not UTF-8 text ({e.reason} at byte "
                f"{e.start})") from None
        try:
            values = vars(self._parser.parse_args(tokens))
        except configargparse.ConfigFileParserException as e:
            raise configargparse.ConfigFileParserException(
                f"config file {getattr(stream, 'name', '?')}: {e}") from None
        return {s.long_flag: values[s.name] if s.takes_value else "true"
                for s in self._settings if s.name in values}


def _open_config_file(path: str) -> IO[str]:
    """Open the config file; gearmand quietly skips the default one when it cannot be read."""
    try:
        return open(path, encoding="utf-8")
    except OSError:
        if path == DEFAULT_CONFIG_FILE:
            return io.StringIO("")
        raise


def _describe(s: Setting, show_default: bool = True) -> str:
    """The help text with its default, for --help and the sample config."""
    text = s.help
    if show_default and s.takes_value and s.default is not None:
        text += f" (default: {s.default})"
    return text


def build_parser() -> configargparse.ArgumentParser:
    """The gearmand-compatible parser, built from :data:`SETTINGS`."""
    parser = _Parser(
        prog=PROG,
        usage=f"{PROG} [options]",
        description=f"A Gearman job server, a drop-in for gearmand {GEARMAND_VERSION}.",
        epilog=f"Options are also read from {DEFAULT_CONFIG_FILE} (or --config-file FILE, or "
               "@FILE): command-line options separated by whitespace, # starts a comment line. "
               "The command line overrides the file.",
        add_help=False,
        allow_abbrev=False,
        config_file_parser_class=ConfigFileTokens(SETTINGS),
        config_file_open_func=_open_config_file,
        add_config_file_help=False,
        add_env_var_help=False,
    )
    groups = {section: parser.add_argument_group(section) for section in SECTIONS}
    for s in SETTINGS:
        kwargs: dict[str, Any] = {"help": argparse.SUPPRESS if s.hidden
                                  else _describe(s).replace("%", "%%")}
        if s.action == "version":
            kwargs["version"] = version_text()
        elif s.action != "help":
            kwargs.update(dest=s.name, default=s.default)
        if s.takes_value:
            kwargs.update(type=s.type, metavar=s.meta)
        if s.name == "config_file":
            kwargs["is_config_file_arg"] = True
        groups[s.section].add_argument(*s.flags, action=s.action, **kwargs)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a gearmand command line (``sys.argv[1:]`` when None) plus its config file.

    ``@name`` is boost's response-file form of ``--config-file name``. Errors, -h and -V print
    and raise SystemExit (1 for errors, as gearmand; 0 otherwise).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    args = [f"--config-file={a[1:]}" if a.startswith("@") else a for a in args]
    return build_parser().parse_args(args)


# ---------------------------------------------------------------------------------------------
# The typed settings the server runs with, built once from the parsed options.
#
# Field names are option names, so each group is filled by name and no default is repeated here:
# the defaults stay in SETTINGS.


@dataclass(frozen=True)
class ListenerSpec:
    """Where to listen and what to speak there; each spec is bound to one socket per address.

    ``protocol`` names one of ``frontend.PROTOCOLS``; ``port_flag`` is the option that set the
    port, for messages."""

    protocol: str
    host: str | None
    port: int
    tls: bool = False
    port_flag: str = "-p"


@dataclass(frozen=True)
class TlsConfig:
    """``--ssl`` and its files, each from its option, else its environment variable, else
    gearmand's default path (``DEFAULT_SSL_FILES``)."""

    ssl: bool
    ssl_ca_file: str
    ssl_certificate: str
    ssl_key: str
    ssl_verify_clients: bool
    ssl_handshake_timeout: int
    #: Which files were named by an option or the environment rather than defaulted.
    given: frozenset[str] = frozenset()

    @classmethod
    def from_options(cls, options: argparse.Namespace,
                     environ: Mapping[str, str] = os.environ) -> TlsConfig:
        files: dict[str, str] = {}
        given = set()
        for name, (default, variable) in DEFAULT_SSL_FILES.items():
            value = getattr(options, name) or environ.get(variable)
            if value:
                given.add(name)
            files[name] = value or default
        return cls(ssl=options.ssl, ssl_verify_clients=options.ssl_verify_clients,
                   ssl_handshake_timeout=options.ssl_handshake_timeout,
                   given=frozenset(given), **files)


@dataclass(frozen=True)
class QueueConfig:
    """What the persistent queue backends read (``queue_backends.prepare``): the type, the URL,
    and every backend's options by name (the backends declare them)."""

    queue_type: str
    queue_url: str | None
    options: Mapping[str, Any]
    shared_queue: bool
    #: As given; None when --shared-queue-lease was not (``shared_lease`` is the one in force).
    shared_queue_lease: int | None

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> QueueConfig:
        return cls(options.queue_type, options.queue_url,
                   {o.name: getattr(options, o.name)
                    for backend in registry.BACKENDS for o in backend.options},
                   options.shared_queue, options.shared_queue_lease)

    @property
    def shared_lease(self) -> int | None:
        """The lease of the shared queue, None without --shared-queue."""
        if not self.shared_queue:
            return None
        return self.shared_queue_lease or DEFAULT_LEASE

    @property
    def store_queue_on_shutdown(self) -> bool:
        """gearmand's SQLite option, which gearmand-py applies to every backend."""
        return bool(self.options["store_queue_on_shutdown"])


@dataclass(frozen=True)
class ProcessConfig:
    """What the start-up steps read (``gearmand_py.process``)."""

    daemon: bool
    user: str | None
    pid_file: str
    log_file: str
    verbose: str
    syslog: bool
    file_descriptors: int | None
    coredump: bool


@dataclass(frozen=True)
class EngineConfig:
    """What the core's job handling reads."""

    job_handle_prefix: str | None
    worker_wakeup: int
    round_robin: bool
    job_retries: int
    exceptions: bool


@dataclass(frozen=True)
class NetworkConfig:
    """How listeners and accepted connections are set up."""

    backlog: int
    keepalive: bool
    keepalive_idle: int
    keepalive_interval: int
    keepalive_count: int
    max_packet_size: int


@dataclass(frozen=True)
class MonitorConfig:
    """The monitor port (``gearmand_py.server.monitor``); ``monitor_port`` None: off."""

    monitor_port: int | None
    monitor_listen: str


@dataclass(frozen=True)
class Config:
    """Everything a server run needs, typed; ``Config.from_options(parse_args(...))``."""

    listeners: tuple[ListenerSpec, ...]
    threads: int
    tls: TlsConfig
    network: NetworkConfig
    engine: EngineConfig
    queue: QueueConfig
    process: ProcessConfig
    monitor: MonitorConfig = MonitorConfig(None, "127.0.0.1")

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Config:
        return cls(
            listeners=(ListenerSpec("gear", options.listen, options.port, options.ssl),
                       *([ListenerSpec("http", options.listen, options.http_port or HTTP_PORT,
                                       options.ssl, "--http-port")]
                         if options.protocol == "http" else [])),
            threads=options.threads,
            tls=TlsConfig.from_options(options),
            network=_by_name(NetworkConfig, options),
            engine=_by_name(EngineConfig, options),
            queue=QueueConfig.from_options(options),
            process=_by_name(ProcessConfig, options),
            monitor=_by_name(MonitorConfig, options),
        )


def _by_name(group: type[Any], options: argparse.Namespace) -> Any:
    """One group filled from the options of the same names."""
    return group(**{f.name: getattr(options, f.name) for f in fields(group)})


# ---------------------------------------------------------------------------------------------
# The sample config file.


def _wrap(text: str, prefix: str, width: int = 79) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=prefix, subsequent_indent=prefix)


def render_config() -> str:
    """The sample conf/gearmand.conf: every option commented out, with its help."""
    lines = [
        "# gearmand-py configuration file (sample). Generated from gearmand_py/settings.py by",
        "# `python -m gearmand_py.settings`; edit the settings there, not this file.",
        "#",
        *_wrap(
            f"gearmand-py reads {DEFAULT_CONFIG_FILE} if it exists, or the file named by "
            "--config-file FILE (or @FILE) on the command line, which must exist. Like "
            f"gearmand {GEARMAND_VERSION}, it reads the file as command-line options separated "
            "by whitespace (spaces and newlines alike), so `--port=4731 -t 2` means what it "
            "means on the command line; short forms work too. Lines whose first "
            "non-blank character is # are comments. Values cannot contain whitespace. Options "
            "on the command line override the same options here; a flag set here cannot be "
            "switched off from the command line.", "# "),
        "#",
        *_wrap("-h/--help, -V/--version and --config-file can only be given on the command "
               "line.", "# "),
        "#",
        *_wrap(f"gearmand {GEARMAND_VERSION} itself has no comments: it skips words that are "
               "not options, so `#--port=1` is inert there but `# --port 1` is not, and a stray "
               "word is an error in gearmand-py. Keep this sample for gearmand-py.", "# "),
    ]
    for section in SECTIONS:
        lines += ["", "", f"# ==== {section} ===="]
        for s in SETTINGS:
            if s.section != section or s.hidden or s.cli_only:
                continue
            forms = ", ".join(f"{f} {s.meta}" if s.takes_value else f for f in s.flags)
            lines += ["", f"# {forms}", *_wrap(_describe(s, show_default=False), "#   ")]
            if not s.takes_value:
                lines.append(f"#{s.long_flag}")
            elif s.default is None:
                lines.append(f"#{s.long_flag}={s.meta}")
            else:
                lines.append(f"#{s.long_flag}={s.default}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_config(), end="")
