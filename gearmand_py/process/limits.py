"""-f/--file-descriptors and --coredump: resource limits, set while we may still raise them
(before -u drops root)."""

from __future__ import annotations

import resource

from gearmand_py.process.errors import SetupError
from gearmand_py.settings import ProcessConfig


def apply(config: ProcessConfig) -> list[str]:
    """Set the limits asked for; returns warnings to log once the log is open."""
    warnings = []
    if config.file_descriptors is not None:
        _set_file_descriptors(config.file_descriptors)
    if config.coredump:
        warnings += _enable_coredump()
    return warnings


def _set_file_descriptors(count: int) -> None:
    """The soft limit becomes ``count``, raising the hard limit if needed (root only)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < count:
        hard = count
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))
    except (OSError, ValueError) as e:
        raise SetupError(
            f"Failed to set limit for the number of file descriptors to {count}. Try running as "
            f"root or giving a smaller value to -f. ({e})") from None


def _enable_coredump() -> list[str]:
    """Unlimited core files, or as large as the hard limit lets an unprivileged user."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (OSError, ValueError):
        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
        return [f"--coredump: core file size limited to the hard limit {hard}"]
    return []
