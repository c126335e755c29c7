"""gearmand-py must accept gearmand 1.1.20's command lines and config files, with its defaults.

The expectations here are written out from ``gearmand --help`` (reference §5.1), not derived from
``gearmand_py.settings``, so a wrong declaration there fails a test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gearmand_py import __version__, settings
from gearmand_py.settings import parse_args, render_config

REPO = Path(__file__).resolve().parents[1]

# Every option of gearmand 1.1.20 --help, with its default, plus gearmand-py's additions. Two
# defaults differ on purpose: -t is 0, not 4 (single-threaded is fastest under the GIL), and -b
# is 4096, not 32 (a listen queue of 32 overflows when clients reconnect quickly).
DEFAULTS = {
    "backlog": 4096, "daemon": False, "exceptions": False, "file_descriptors": None,
    "job_retries": 0, "job_handle_prefix": None, "hashtable_buckets": 991, "keepalive": False,
    "keepalive_idle": -1, "keepalive_interval": -1, "keepalive_count": -1,
    "log_file": "/var/log/gearmand.log", "listen": None, "pid_file": "/var/gearmand.pid",
    "protocol": None, "round_robin": False, "queue_type": "builtin",
    "config_file": "/etc/gearmand.conf", "syslog": False, "coredump": False, "threads": 0,
    "user": None, "verbose": "ERROR", "worker_wakeup": 0, "http_port": None, "port": 4730,
    "ssl": False, "ssl_ca_file": None, "ssl_certificate": None, "ssl_key": None,
    "libmemcached_servers": None, "libmemcached_prefix": "gear_", "libsqlite3_db": None,
    "store_queue_on_shutdown": False, "libsqlite3_table": "gearman_queue",
    "libpq_conninfo": None, "libpq_table": "queue", "redis_server": None, "redis_port": None,
    "redis_password": None, "redis_prefix": None, "mysql_host": "localhost", "mysql_port": 3306,
    "mysql_user": None, "mysql_password": None, "mysql_db": None,
    "mysql_table": "gearman_queue",
    "check_args": False, "max_packet_size": 67108864, "queue_url": None,
    "ssl_verify_clients": False,
    "ssl_handshake_timeout": 10,
    "monitor_port": None, "monitor_listen": "127.0.0.1",
    "shared_queue": False, "shared_queue_lease": None,
}

# (flags, value given, attribute, value parsed). value None: a flag without argument.
OPTIONS = [
    (("-b", "--backlog"), "64", "backlog", 64),
    (("-d", "--daemon"), None, "daemon", True),
    (("--exceptions",), None, "exceptions", True),
    (("-f", "--file-descriptors"), "1024", "file_descriptors", 1024),
    (("-j", "--job-retries"), "3", "job_retries", 3),
    (("--job-handle-prefix",), "H:box", "job_handle_prefix", "H:box"),
    (("--hashtable-buckets",), "1733003", "hashtable_buckets", 1733003),
    (("--keepalive",), None, "keepalive", True),
    (("--keepalive-idle",), "30", "keepalive_idle", 30),
    (("--keepalive-interval",), "10", "keepalive_interval", 10),
    (("--keepalive-count",), "5", "keepalive_count", 5),
    (("-l", "--log-file"), "stderr", "log_file", "stderr"),
    (("-L", "--listen"), "127.0.0.1", "listen", "127.0.0.1"),
    (("-P", "--pid-file"), "/tmp/x.pid", "pid_file", "/tmp/x.pid"),
    (("-r", "--protocol"), "http", "protocol", "http"),
    (("-R", "--round-robin"), None, "round_robin", True),
    (("-q", "--queue-type"), "libsqlite3", "queue_type", "libsqlite3"),
    (("--syslog",), None, "syslog", True),
    (("--coredump",), None, "coredump", True),
    (("-t", "--threads"), "0", "threads", 0),
    (("-u", "--user"), "nobody", "user", "nobody"),
    (("--verbose",), "DEBUG", "verbose", "DEBUG"),
    (("-w", "--worker-wakeup"), "2", "worker_wakeup", 2),
    (("--http-port",), "8081", "http_port", 8081),
    (("-p", "--port"), "4731", "port", 4731),
    (("--ssl",), None, "ssl", True),
    (("--ssl-ca-file",), "/ca.pem", "ssl_ca_file", "/ca.pem"),
    (("--ssl-certificate",), "/c.pem", "ssl_certificate", "/c.pem"),
    (("--ssl-key",), "/k.key", "ssl_key", "/k.key"),
    (("--libmemcached-servers",), "a:1,b:2", "libmemcached_servers", "a:1,b:2"),
    (("--libmemcached-prefix",), "p_", "libmemcached_prefix", "p_"),
    (("--libsqlite3-db",), "/q.db", "libsqlite3_db", "/q.db"),
    (("--store-queue-on-shutdown",), None, "store_queue_on_shutdown", True),
    (("--libsqlite3-table",), "t", "libsqlite3_table", "t"),
    (("--libpq-conninfo",), "dbname=g", "libpq_conninfo", "dbname=g"),
    (("--libpq-table",), "t", "libpq_table", "t"),
    (("--redis-server",), "r", "redis_server", "r"),
    (("--redis-port",), "6379", "redis_port", "6379"),
    (("--redis-password",), "pw", "redis_password", "pw"),
    (("--redis-prefix",), "g_", "redis_prefix", "g_"),
    (("--mysql-host",), "db", "mysql_host", "db"),
    (("--mysql-port",), "3307", "mysql_port", 3307),
    (("--mysql-user",), "u", "mysql_user", "u"),
    (("--mysql-password",), "pw", "mysql_password", "pw"),
    (("--mysql-db",), "gear", "mysql_db", "gear"),
    (("--mysql-table",), "t", "mysql_table", "t"),
    (("--max-packet-size",), "1048576", "max_packet_size", 1048576),
    (("--ssl-verify-clients",), None, "ssl_verify_clients", True),
    (("--ssl-handshake-timeout",), "3", "ssl_handshake_timeout", 3),
    (("--queue-url",), "sqlite:////tmp/q.db", "queue_url", "sqlite:////tmp/q.db"),
    (("--check-args",), None, "check_args", True),
    (("--monitor-port",), "9418", "monitor_port", 9418),
    (("--monitor-listen",), "0.0.0.0", "monitor_listen", "0.0.0.0"),
    (("--shared-queue",), None, "shared_queue", True),
    (("--shared-queue-lease",), "30", "shared_queue_lease", 30),
]


@pytest.fixture
def conf(tmp_path):
    """Write a config file and return the arguments that name it."""

    def write(text: str = "") -> list[str]:
        path = tmp_path / "gearmand.conf"
        path.write_text(text)
        return ["--config-file", str(path)]

    return write


def fails(capsys, argv: list[str]) -> str:
    """Parse argv, expecting gearmand's error exit (status 1); return what went to stderr."""
    with pytest.raises(SystemExit) as stop:
        parse_args(argv)
    assert stop.value.code == 1
    return capsys.readouterr().err


def test_defaults_are_gearmands(conf):
    parsed = vars(parse_args(conf()))
    assert parsed.pop("config_file").endswith("gearmand.conf")
    expected = dict(DEFAULTS)
    del expected["config_file"]
    assert parsed == expected


@pytest.mark.skipif(os.path.exists("/etc/gearmand.conf"), reason="this machine has a config file")
def test_no_arguments_and_no_default_config_file_gives_defaults():
    assert vars(parse_args([])) == DEFAULTS


@pytest.mark.parametrize("flags,value,attr,expected", OPTIONS,
                         ids=[option[0][-1] for option in OPTIONS])
def test_every_option_parses_in_each_form(conf, flags, value, attr, expected):
    forms: list[list[str]] = []
    for flag in flags:
        if value is None:
            forms.append([flag])
        elif flag.startswith("--"):
            forms += [[flag, value], [f"{flag}={value}"]]
        else:
            forms += [[flag, value], [f"{flag}{value}"]]
    for form in forms:
        parsed = parse_args(conf() + form)
        assert getattr(parsed, attr) == expected, form
        others = {k: v for k, v in vars(parsed).items() if k not in (attr, "config_file")}
        assert others == {k: v for k, v in DEFAULTS.items() if k not in (attr, "config_file")}


def test_short_flags_combine(conf):
    parsed = parse_args(conf() + ["-Rd", "-t2"])
    assert (parsed.round_robin, parsed.daemon, parsed.threads) == (True, True, 2)


def test_negative_values_are_values(conf):
    assert parse_args(conf() + ["--keepalive-idle", "-1"]).keepalive_idle == -1


@pytest.mark.skipif(not shutil.which("gearmand") and not os.path.exists("/usr/sbin/gearmand"),
                    reason="gearmand is not installed")
def test_accepts_every_option_the_installed_gearmand_lists():
    gearmand = shutil.which("gearmand") or "/usr/sbin/gearmand"
    text = subprocess.run([gearmand, "--help"], capture_output=True, text=True).stdout
    theirs = set(re.findall(r"(?:\[ )?(--[a-z0-9-]+)", text))
    ours = {flag for s in settings.SETTINGS for flag in s.flags}
    assert theirs and theirs <= ours
    shorts = set(re.findall(r"^\s+(-[a-zA-Z]) \[", text, re.M))
    assert shorts == {"-b", "-d", "-f", "-h", "-j", "-l", "-L", "-P", "-r", "-R", "-q", "-t",
                      "-u", "-V", "-w", "-p"}
    assert shorts <= ours


def test_abbreviated_long_options_are_rejected(capsys, conf):
    assert "--back" in fails(capsys, conf() + ["--back", "3"])


def test_unknown_option_and_stray_word_are_rejected(capsys, conf):
    assert "--bogus" in fails(capsys, conf() + ["--bogus"])
    assert "foo" in fails(capsys, conf() + ["foo"])


def test_flags_take_no_value(capsys, conf):
    assert "--exceptions" in fails(capsys, conf() + ["--exceptions=1"])


def test_missing_value(capsys, conf):
    assert "--threads" in fails(capsys, conf() + ["-t"])


@pytest.mark.parametrize("given,stored", [("info", "INFO"), ("Debug", "DEBUG"), ("FATAL", "FATAL"),
                                          ("alert", "ALERT"), ("critical", "CRITICAL"),
                                          ("error", "ERROR"), ("warning", "WARNING"),
                                          ("notice", "NOTICE")])
def test_verbose_levels_any_case(conf, given, stored):
    assert parse_args(conf() + ["--verbose", given]).verbose == stored


def test_bad_verbose_value(capsys, conf):
    err = fails(capsys, conf() + ["--verbose", "LOUD"])
    assert "Invalid value for --verbose supplied" in err and "LOUD" in err


def test_dash_v_is_deprecated(capsys, conf):
    err = fails(capsys, conf() + ["-v"])
    assert err == "gearmand-py: Option -v has been deprecated, please use --verbose\n"


@pytest.mark.parametrize("option", ["-j", "-w"])
def test_uint8_options_range(capsys, conf, option):
    assert parse_args(conf() + [option, "255"]) is not None
    assert parse_args(conf() + [option, "0"]) is not None
    assert "0..255" in fails(capsys, conf() + [option, "256"])
    assert "0..255" in fails(capsys, conf() + [option, "-1"])


def test_hashtable_buckets_must_be_positive(capsys, conf):
    assert "greater than 0" in fails(capsys, conf() + ["--hashtable-buckets", "0"])
    assert "Python dicts" in settings._describe(
        next(s for s in settings.SETTINGS if s.name == "hashtable_buckets"))


def test_threads_not_negative(capsys, conf):
    assert parse_args(conf() + ["-t", "0"]).threads == 0
    assert "--threads" in fails(capsys, conf() + ["-t", "-1"])
    assert "--threads" in fails(capsys, conf() + ["-t", "many"])


@pytest.mark.parametrize("option", ["-p", "--http-port", "--mysql-port", "--monitor-port"])
def test_port_range(capsys, conf, option):
    attr = {"-p": "port", "--http-port": "http_port", "--mysql-port": "mysql_port",
            "--monitor-port": "monitor_port"}[option]
    assert getattr(parse_args(conf() + [option, "1"]), attr) == 1
    assert getattr(parse_args(conf() + [option, "65535"]), attr) == 65535
    assert "1..65535" in fails(capsys, conf() + [option, "0"])
    assert "1..65535" in fails(capsys, conf() + [option, "65536"])


def test_queue_type_any_case(capsys, conf):
    assert parse_args(conf() + ["-q", "BUILTIN"]).queue_type == "builtin"
    assert parse_args(conf() + ["-q", "MySQL"]).queue_type == "mysql"
    assert "Unknown queue" in fails(capsys, conf() + ["-q", "tokyo"])


def test_version(capsys, conf):
    for flag in ("-V", "--version"):
        with pytest.raises(SystemExit) as stop:
            parse_args(conf() + [flag])
        assert stop.value.code == 0
        assert capsys.readouterr().out == f"gearmand-py {__version__} (gearmand 1.1.20 compatible)\n"


def test_help_lists_every_visible_option_and_exits_0(capsys):
    for flag in ("-h", "--help"):
        with pytest.raises(SystemExit) as stop:
            parse_args([flag])
        assert stop.value.code == 0
        out = capsys.readouterr().out
        for flags, *_ in OPTIONS:
            if flags != ("--check-args",):
                assert all(f in out for f in flags), flags
        assert "--check-args" not in out
        assert "-v," not in out


# --- config files --------------------------------------------------------------------------------


def test_config_file_tokens_like_the_command_line(conf):
    parsed = parse_args(conf("--port=4731 -t 2\n--verbose INFO\n-R --job-handle-prefix=-x\n"))
    assert (parsed.port, parsed.threads, parsed.verbose) == (4731, 2, "INFO")
    assert parsed.round_robin and parsed.job_handle_prefix == "-x"


def test_config_file_comment_lines(capsys, conf):
    parsed = parse_args(conf("# --port 1\n   # -t 9 comment\n-t 3\n"))
    assert (parsed.port, parsed.threads) == (4730, 3)
    # Only whole lines are comments; a # after an option is a stray word.
    assert "#" in fails(capsys, conf("-t 3 # three threads\n"))


def test_command_line_overrides_config_file(conf):
    args = conf("--port=4731 -t 2 --verbose=INFO --keepalive")
    parsed = parse_args(["-p", "5000", *args, "--threads=7"])
    assert (parsed.port, parsed.threads, parsed.verbose, parsed.keepalive) == (5000, 7, "INFO", True)


def test_at_name_is_a_config_file(conf):
    path = conf("-t 2 --port 4731")[1]
    parsed = parse_args([f"@{path}", "-t", "5"])
    assert (parsed.threads, parsed.port, parsed.config_file) == (5, 4731, path)


def test_missing_explicit_config_file_is_an_error(capsys, tmp_path):
    missing = str(tmp_path / "nope.conf")
    assert missing in fails(capsys, ["--config-file", missing])
    assert missing in fails(capsys, [f"@{missing}"])


def test_missing_default_config_file_is_ignored(monkeypatch):
    opened = []

    def absent(path, **kwargs):
        opened.append(path)
        raise FileNotFoundError(2, "No such file or directory", path)

    monkeypatch.setattr(settings, "open", absent, raising=False)
    assert parse_args(["-t", "2"]).threads == 2
    assert opened == ["/etc/gearmand.conf"]


def test_default_config_file_is_read(monkeypatch, tmp_path):
    real = tmp_path / "etc-gearmand.conf"
    real.write_text("--port 4999 -t 1\n")

    def redirect(path, **kwargs):
        assert path == "/etc/gearmand.conf"
        return open(real, **kwargs)

    monkeypatch.setattr(settings, "open", redirect, raising=False)
    parsed = parse_args(["-t", "6"])
    assert (parsed.port, parsed.threads) == (4999, 6)


def test_bad_config_file_contents_name_the_file(capsys, conf):
    path = conf()[1]
    for text, words in [("--bogus\n", "--bogus"), ("port=4731\n", "port=4731"),
                        ("-t\n", "--threads"), ("--help\n", "only be given on the command line"),
                        ("--config-file /x\n", "only be given on the command line"),
                        ("@/x\n", "@/x")]:
        Path(path).write_text(text)
        err = fails(capsys, ["--config-file", path])
        assert path in err and words in err, (text, err)


def test_config_file_values_are_validated(capsys, conf):
    assert "--threads" in fails(capsys, conf("--threads abc\n"))
    assert "Invalid value for --verbose" in fails(capsys, conf("--verbose loud\n"))
    assert "deprecated" in fails(capsys, conf("-v\n"))


# --- the sample config ---------------------------------------------------------------------------


def test_committed_sample_config_is_the_rendered_one():
    committed = (REPO / "conf" / "gearmand.conf").read_text()
    assert committed == render_config(), "regenerate: python -m gearmand_py.settings > conf/gearmand.conf"


def test_sample_config_lists_every_option_commented_out():
    text = render_config()
    for flags, *_ in OPTIONS:
        if flags != ("--check-args",):
            assert re.search(rf"^#{re.escape(flags[-1])}(=|$)", text, re.M), flags
    assert not [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "whitespace" in text.split("\n\n")[0]


def test_sample_config_defaults_parse_back_to_the_defaults(conf):
    placeholders = {s.meta for s in settings.SETTINGS}
    lines = [line[1:] for line in render_config().splitlines()
             if re.match(r"#--[a-z0-9-]+=", line) and line.split("=", 1)[1] not in placeholders]
    assert len(lines) >= 20
    parsed = vars(parse_args(conf("\n".join(lines))))
    parsed.pop("config_file")
    assert parsed == {k: v for k, v in DEFAULTS.items() if k != "config_file"}


def test_shared_queue_lease_range(capsys, conf):
    assert parse_args(conf() + ["--shared-queue-lease", "1"]).shared_queue_lease == 1
    assert parse_args(conf() + ["--shared-queue-lease", "3600"]).shared_queue_lease == 3600
    assert "1..3600" in fails(capsys, conf() + ["--shared-queue-lease", "0"])
    assert "1..3600" in fails(capsys, conf() + ["--shared-queue-lease", "3601"])


def test_the_shared_queue_lease_in_force():
    def lease(*argv: str) -> int | None:
        return settings.Config.from_options(parse_args(["--config-file", "/dev/null", *argv])
                                            ).queue.shared_lease

    assert lease() is None
    assert lease("--shared-queue") == settings.DEFAULT_LEASE == 10
    assert lease("--shared-queue", "--shared-queue-lease", "3") == 3
