"""-u/--user: switch from root to USER once the ports are bound.

gearmand switches before binding, so it cannot listen below port 1024 as another user; here the
sockets are bound as root and kept. The files the server creates or reopens later (log file,
pid file, SQLite database) are created or handed to USER first, while we still may.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from gearmand_py.process.errors import SetupError

#: The files SQLite keeps beside a database (WAL mode, or the rollback journal).
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int


def lookup(name: str) -> User:
    """The user to switch to; checked before anything is bound, as gearmand checks first."""
    if os.getuid() != 0 and os.geteuid() != 0:
        raise SetupError("Must be root to switch users.")  # gearmand's words
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise SetupError(f'Could not find user "{name}" (-u/--user)') from None
    return User(entry.pw_name, entry.pw_uid, entry.pw_gid)


def hand_over(user: User, files: Iterable[str], database: str | None) -> list[str]:
    """Create ``files`` (if they can be) and the database's missing directories, owned by
    ``user``; give ``user`` the database and its companions that exist; return the files this
    created. A path that cannot be prepared is left alone: opening it as the user then reports
    why. Only regular files are handed over, never through a symlink: the user may write in
    these directories, and root must not chown or open what it plants there."""
    created = []
    for path in files:
        existed = os.path.lexists(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                         | os.O_NONBLOCK, 0o644)
        except OSError:
            continue
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.fchown(fd, user.uid, user.gid)
                if not existed:
                    created.append(path)
        except OSError:
            pass
        finally:
            os.close(fd)
    if database:
        _hand_over_database(user, os.path.abspath(database))
    return created


def _hand_over_database(user: User, path: str) -> None:
    """SQLite creates its -wal and -shm files beside the database, so a directory we create
    belongs to the user; a directory that exists stays as the operator made it."""
    missing = []
    directory = os.path.dirname(path)
    while not os.path.exists(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    try:
        for directory in reversed(missing):
            os.mkdir(directory, 0o750)
            os.chown(directory, user.uid, user.gid)
        for suffix in SQLITE_COMPANIONS:
            if os.path.lexists(path + suffix) and stat.S_ISREG(os.lstat(path + suffix).st_mode):
                os.chown(path + suffix, user.uid, user.gid, follow_symlinks=False)
    except OSError:
        pass


def drop(user: User) -> None:
    """Become ``user``: supplementary groups, group, then user (the order root needs)."""
    try:
        os.initgroups(user.name, user.gid)
        os.setgid(user.gid)
        os.setuid(user.uid)
    except OSError as e:
        raise SetupError(f'Could not switch to user "{user.name}" (-u/--user): '
                         f"{e.strerror}") from None
