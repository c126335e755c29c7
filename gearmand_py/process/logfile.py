"""-l/--log-file, --syslog, --verbose: where the log goes for the server's lifetime."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gearmand_py import logs
from gearmand_py.process.errors import SetupError
from gearmand_py.settings import DEFAULT_LOG_FILE, PROG, ProcessConfig


@contextmanager
def opened(config: ProcessConfig) -> Iterator[None]:
    """The log configured inside, closed on the way out. Raises SetupError.

    Like gearmand, an unusable default log file falls back to stderr; unlike gearmand, an
    unusable file the user named is an error rather than a surprise."""
    try:
        logs.configure(config.verbose, config.log_file, config.syslog)
    except OSError as e:
        if config.log_file != DEFAULT_LOG_FILE:
            raise SetupError(
                f'Could not open log file "{config.log_file}" ({e.strerror})') from None
        print(f'{PROG}: Could not open log file "{config.log_file}", switching to stderr. '
              f"({e.strerror})", file=sys.stderr)
        logs.configure(config.verbose, "stderr", config.syslog)
    try:
        yield
    finally:
        logs.close()
