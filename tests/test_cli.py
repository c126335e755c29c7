"""What the ``gearmand-py`` command does before the server starts: refusing options that are not
implemented yet, -V/--check-args, and the start-up steps that set up the log, the pid file and
resource limits (``gearmand_py.process``)."""

from __future__ import annotations

import logging
import os
import stat
import re
import resource
import subprocess
import sys
import types
from pathlib import Path

import pytest

from gearmand_py import __version__, cli, logs
from gearmand_py.process import limits, logfile, pidfile
from gearmand_py.process.errors import SetupError
from gearmand_py.process.pidfile import PidFile
from gearmand_py.settings import Config, ProcessConfig, parse_args
from tests.support.servers import free_port, repo_env

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def base(tmp_path) -> list[str]:
    """Arguments that keep a test away from /etc/gearmand.conf, /var/log and /var."""
    conf = tmp_path / "empty.conf"
    conf.write_text("")
    return ["--config-file", str(conf), "-l", "none", "-P", str(tmp_path / "gearmand.pid")]


@pytest.fixture(autouse=True)
def no_server(monkeypatch):
    """No test here may start the real server in-process: reaching the start-up sequence means
    the command line let a bad option through."""

    def run(config):
        pytest.fail("gearmand_py.process.startup.run was called")

    monkeypatch.setitem(sys.modules, "gearmand_py.process.startup", types.SimpleNamespace(run=run))
    yield
    logs.close()


def process(argv: list[str]) -> ProcessConfig:
    """The start-up steps' settings for a command line."""
    return Config.from_options(parse_args(argv)).process


def run_main(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def run_module(*args: str) -> subprocess.CompletedProcess:
    """``python -m gearmand_py`` as a user runs it."""
    env = repo_env()
    return subprocess.run([sys.executable, "-m", "gearmand_py", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=60)


# --- options gearmand-py refuses for now --------------------------------------------------------

UNSUPPORTED = [
    (["--protocol", "foo"], "Unknown protocol module : foo"),
    (["-r", "HTTP"], "Unknown protocol module : HTTP"),
    (["--http-port", "8081"], "--http-port needs -r http"),
    (["--http-port", "8080"], "--http-port needs -r http"),
    (["-r", "http", "-p", "8080"], "--http-port 8080 is the Gear port (-p) too"),
    (["-r", "http", "-p", "8085", "--http-port", "8085"], "--http-port 8085 is the Gear port (-p) too"),
    (["-q", "LibTokyoCabinet"], "--queue-type libtokyocabinet: gearmand-py has no Tokyo Cabinet "
                                "queue (no maintained Python binding builds against "
                                "libtokyocabinet; Debian's gearmand lacks it too); for a queue in "
                                "a local file use -q libsqlite3 --libsqlite3-db FILE"),
]


@pytest.mark.parametrize("args,message", UNSUPPORTED, ids=[" ".join(a) for a, _ in UNSUPPORTED])
def test_unsupported_option_exits_1_with_its_message(capsys, base, args, message):
    status, out, err = run_main(capsys, base + args)
    assert (status, out, err) == (1, "", f"gearmand-py: {message}\n")


def test_unsupported_refused_even_with_check_args(capsys, base):
    status, _, err = run_main(capsys, base + ["--http-port", "8081", "--check-args"])
    assert status == 1 and "--http-port needs -r http" in err


def test_every_refused_option_is_reported_at_once(capsys, base):
    status, _, err = run_main(capsys, base + ["-r", "gopher", "-q", "libtokyocabinet"])
    assert status == 1
    assert sorted(err.splitlines()) == ["gearmand-py: --queue-type libtokyocabinet: gearmand-py "
                                        "has no Tokyo Cabinet queue (no maintained Python "
                                        "binding builds against libtokyocabinet; Debian's "
                                        "gearmand lacks it too); for a queue in a local file use "
                                        "-q libsqlite3 --libsqlite3-db FILE",
                                        "gearmand-py: Unknown protocol module : gopher"]


def test_options_at_their_defaults_are_fine(capsys, base):
    args = ["-q", "BUILTIN", "--mysql-host", "localhost",
            "--mysql-port=3306", "--libpq-table", "queue", "--check-args"]
    assert run_main(capsys, base + args) == (0, "", "")


def test_unsupported_option_in_config_file_is_refused(capsys, tmp_path):
    conf = tmp_path / "g.conf"
    conf.write_text("--http-port 8081\n")
    status, _, err = run_main(capsys, ["--config-file", str(conf), "--check-args"])
    assert status == 1 and "--http-port needs -r http" in err


def test_refusal_through_python_m():
    done = run_module("--config-file", os.devnull, "--http-port", "8081", "--check-args")
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", "gearmand-py: --http-port needs -r http\n")


# --- check-args, version, bad options -----------------------------------------------------------


def test_check_args_accepts_every_supported_option_and_exits_0(capsys, base):
    args = ["-b", "64", "--exceptions", "-f", "4096", "-j", "3", "--job-handle-prefix", "H:x",
            "--hashtable-buckets", "17", "--keepalive", "--keepalive-idle", "30",
            "--keepalive-interval", "10", "--keepalive-count", "3", "-L", "127.0.0.1", "-R",
            "-q", "builtin", "--syslog", "--coredump", "-t", "0", "--verbose", "debug", "-w", "1",
            "-p", "4731", "--max-packet-size", "1024", "--check-args"]
    assert run_main(capsys, base + args) == (0, "", "")
    assert not Path(base[-1]).exists(), "--check-args must not write the pid file"


def test_check_args_through_python_m():
    done = run_module("--config-file", os.devnull, "-t", "2", "--check-args")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_version_through_python_m():
    for flag in ("-V", "--version"):
        done = run_module(flag)
        assert done.returncode == 0
        assert done.stdout == f"gearmand-py {__version__} (gearmand 1.1.20 compatible)\n"


def test_help_exits_0(capsys):
    status, out, _ = run_main(capsys, ["--help"])
    assert status == 0 and out.startswith("usage: gearmand-py")


def test_dash_v_is_deprecated(capsys, base):
    assert run_main(capsys, base + ["-v"]) == (
        1, "", "gearmand-py: Option -v has been deprecated, please use --verbose\n")


def test_bad_verbose_value(capsys, base):
    status, _, err = run_main(capsys, base + ["--verbose", "chatty"])
    assert status == 1 and "Invalid value for --verbose supplied" in err


def test_unknown_option_exits_1(capsys, base):
    status, _, err = run_main(capsys, base + ["--no-such-option"])
    assert status == 1 and "--no-such-option" in err


# --- main hands the typed settings to the start-up sequence ------------------------------------


def test_main_runs_the_startup_sequence_with_typed_settings(capsys, base, monkeypatch):
    seen = []

    def run(config):
        seen.append(config)
        return 3

    monkeypatch.setitem(sys.modules, "gearmand_py.process.startup", types.SimpleNamespace(run=run))
    status, _, err = run_main(capsys, base + ["-p", "4731", "-d", "-u", "nobody"])
    assert (status, err) == (3, "")
    [config] = seen
    assert isinstance(config, Config)
    assert (config.listeners[0].port, config.process.daemon, config.process.user) == (
        4731, True, "nobody")


# --- pid file ------------------------------------------------------------------------------------


def test_pid_file_written_then_removed(tmp_path):
    path = tmp_path / "gearmand.pid"
    written = PidFile.write(str(path))
    assert path.read_text() == f"{os.getpid()}\n"
    written.remove()
    assert not path.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_as_pid_file_is_written_but_never_removed(tmp_path):
    """``-P /dev/null`` must not remove /dev/null at exit (here a null device of our own)."""
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    assert PidFile.write(str(null)) is None
    assert stat.S_ISCHR(os.lstat(null).st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_pid_file_replaced_by_a_device_is_left_alone(tmp_path):
    path = tmp_path / "gearmand.pid"
    written = PidFile.write(str(path))
    path.unlink()
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    written.remove()
    assert stat.S_ISCHR(os.lstat(path).st_mode)


def test_unwritable_pid_file_is_fatal(tmp_path):
    bad = str(tmp_path / "no" / "such" / "dir.pid")
    with pytest.raises(SetupError, match=f"^Could not open pid file for writing: {bad} "):
        PidFile.write(bad)


def test_unwritable_pid_file_stops_the_command_with_one_line(tmp_path):
    bad = str(tmp_path / "no" / "such" / "dir.pid")
    done = run_module("--config-file", os.devnull, "-l", "none", "-L", "127.0.0.1",
                      "-p", str(free_port()), "-P", bad)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"gearmand-py: Could not open pid file for writing: {bad} "
                           "(No such file or directory)\n")


def test_unwritable_default_pid_file_is_not_fatal(tmp_path, monkeypatch):
    bad = str(tmp_path / "no" / "such" / "dir.pid")
    monkeypatch.setattr(pidfile, "DEFAULT_PID_FILE", bad)
    assert PidFile.write(bad) is None


# --- log destination and level -------------------------------------------------------------------

LINE = re.compile(r"^  ERROR \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \[  main \] hello 42$")


def test_log_file_none_writes_nothing(capsys, base):
    with logfile.opened(process(base)):
        logging.getLogger("gearmand_py.test").error("hello")
    assert capsys.readouterr() == ("", "")


def test_log_file_stderr(capsys, base):
    with logfile.opened(process(base + ["-l", "stderr"])):
        logging.getLogger("gearmand_py.test").error("hello %d", 42)
        logging.getLogger("gearmand_py.test").info("not at the default level")
    assert LINE.match(capsys.readouterr().err.rstrip("\n"))


def test_log_file_path_and_reopen(base, tmp_path):
    path = tmp_path / "gearmand.log"
    log = logging.getLogger("gearmand_py.test")
    with logfile.opened(process(base + ["-l", str(path)])):
        log.error("hello %d", 42)
        path.rename(tmp_path / "gearmand.log.1")
        logs.reopen()
        log.error("after reopen")
    assert LINE.match((tmp_path / "gearmand.log.1").read_text().rstrip("\n"))
    assert path.read_text().endswith("after reopen\n")


def test_log_appends(base, tmp_path):
    path = tmp_path / "gearmand.log"
    path.write_text("old line\n")
    with logfile.opened(process(base + ["-l", str(path)])):
        logging.getLogger("gearmand_py").error("new line")
    assert path.read_text().startswith("old line\n") and path.read_text().endswith("new line\n")


def test_explicit_log_file_that_cannot_be_opened_is_fatal(base, tmp_path):
    bad = str(tmp_path / "no" / "dir" / "g.log")
    with pytest.raises(SetupError, match=f'^Could not open log file "{bad}"'):
        with logfile.opened(process(base + ["-l", bad])):
            pass


def test_default_log_file_that_cannot_be_opened_falls_back_to_stderr(capsys, base, tmp_path,
                                                                     monkeypatch):
    bad = str(tmp_path / "no" / "dir" / "g.log")
    monkeypatch.setattr(logfile, "DEFAULT_LOG_FILE", bad)
    with logfile.opened(process(base + ["-l", bad])):
        assert "switching to stderr" in capsys.readouterr().err
        logging.getLogger("gearmand_py.test").error("hello %d", 42)
    assert LINE.match(capsys.readouterr().err.rstrip("\n"))


@pytest.mark.parametrize("level,shown,hidden", [
    ("INFO", [logging.INFO, logs.NOTICE, logging.ERROR], [logging.DEBUG]),
    ("notice", [logs.NOTICE, logging.WARNING], [logging.INFO]),
    ("ALERT", [logs.ALERT, logs.FATAL], [logging.CRITICAL]),
    ("DEBUG", [logging.DEBUG], []),
])
def test_verbose_level_filters_and_is_reported(capsys, base, level, shown, hidden):
    log = logging.getLogger("gearmand_py.test")
    with logfile.opened(process(base + ["-l", "stderr", "--verbose", level])):
        assert logs.level_name() == level.upper()
        for number in shown + hidden:
            log.log(number, "level %d", number)
    err = capsys.readouterr().err
    for number in shown:
        assert f"level {number}\n" in err
    for number in hidden:
        assert f"level {number}\n" not in err


def test_gearmand_level_names_in_lines(capsys, base):
    with logfile.opened(process(base + ["-l", "stderr", "--verbose", "DEBUG"])):
        for number in (logs.FATAL, logs.ALERT, logs.NOTICE):
            logging.getLogger("gearmand_py").log(number, "x")
    names = [line.split()[0] for line in capsys.readouterr().err.splitlines()]
    assert names == ["FATAL", "ALERT", "NOTICE"]


# --- resource limits -----------------------------------------------------------------------------


def test_file_descriptors_sets_the_soft_limit(base):
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(before[0], 4096) - 1
    try:
        assert limits.apply(process(base + ["-f", str(wanted)])) == []
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == wanted
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_file_descriptors_beyond_what_is_allowed_is_fatal(base):
    with pytest.raises(SetupError, match="^Failed to set limit for the number of file descript"):
        limits.apply(process(base + ["-f", str(2**62)]))


def test_coredump_raises_the_core_limit(base):
    before = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, before[1]))
    try:
        limits.apply(process(base + ["--coredump"]))
        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        assert soft == hard
        assert soft == resource.RLIM_INFINITY or os.geteuid() != 0
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, before)
