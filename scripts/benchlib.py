"""Shared pieces of the side-by-side benchmarks: build the load generator, start gearmand and
gearmand-py with the same flags, run a load, take medians of alternating runs.

Results are ratios gearmand-py / gearmand measured in one run on one machine; absolute numbers
mean little across machines.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.servers import ServerProcess, start_server  # noqa: E402

GEARLOAD_SOURCE = REPO.parent / "shared" / "tools" / "gearload.c"


def build_gearload(source: Path = GEARLOAD_SOURCE) -> Path:
    """Compile gearload.c into a temporary directory (never into the repository)."""
    if not source.exists():
        raise SystemExit(f"load generator source not found: {source}")
    out = Path(tempfile.mkdtemp(prefix="gearload-")) / "gearload"
    subprocess.run(["cc", "-O2", "-o", str(out), str(source)], check=True)
    return out


@contextmanager
def server(kind: str, args: list[str]) -> Iterator[ServerProcess]:
    proc = start_server(kind, args)
    try:
        yield proc
    finally:
        proc.stop()


def gearload(binary: Path, port: int, *args: str, timeout: float = 300) -> dict[str, float]:
    """Run gearload and return its key=value summary as numbers."""
    done = subprocess.run([str(binary), "-p", str(port), *args], capture_output=True, text=True,
                          timeout=timeout)
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    values = dict(re.findall(r"(\w+)=([\d.]+)", line))
    if done.returncode != 0 or not values:
        raise RuntimeError(f"gearload {' '.join(args)} failed ({done.returncode}): "
                           f"{done.stdout}{done.stderr}")
    return {k: float(v) for k, v in values.items()}


def alternate(runs: int, measure: dict[str, Callable[[], float]]) -> dict[str, float]:
    """Run each measurement ``runs`` times, interleaved A B A B, and return the medians."""
    samples: dict[str, list[float]] = {name: [] for name in measure}
    for _ in range(runs):
        for name, fn in measure.items():
            samples[name].append(fn())
    return {name: statistics.median(values) for name, values in samples.items()}


def machine() -> str:
    """One line describing where the numbers come from."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")
