"""Job body for ``gearman -w -f FN -- python cli_job.py DIR`` workers (test_libgearman_cli.py).

``gearman -w`` pipes each job's payload to this command's stdin and returns its stdout as the
result. Follows the job contract in _util.py: ``hold:`` payloads wait for DIR/release (the CLI
worker cannot send WORK_STATUS); every payload is appended to DIR/done.log; the result is the
payload reversed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    """Run one job."""
    workdir = Path(sys.argv[1])
    payload = sys.stdin.buffer.read().decode()
    if payload.startswith("hold:"):
        deadline = time.monotonic() + 15
        while not (workdir / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    with open(workdir / "done.log", "a") as log:
        log.write(payload + "\n")
    sys.stdout.write(payload[::-1])


if __name__ == "__main__":
    main()
