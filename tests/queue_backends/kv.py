"""The key-value stores the queue-backend tests use: the machine's Redis at 127.0.0.1:6379 (one
unique key prefix per test, never a flush), and private ``redis-server`` processes on free ports
that a test may kill and restart.

An unreachable service or a missing program skips the test with the reason, except under
``CI=true`` where it fails (scripts/test installs and starts them).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from gearmand_py.settings import QueueConfig
from queue_backends import QueueBackend, open_backend
from tests.queue_backends.dbs import replaced, settings
from tests.support.prerequisites import require
from tests.support.servers import free_port, gearmand_available, start_server
from tests.support.wire import Conn

#: What fill_with_gearmand submits: (function, unique) -> (priority, data).
GEARMAND_JOBS = {(b"moved", b"k1"): (1, b"one\0bytes"), (b"moved", b"k2"): (0, b"two"),
                 (b"moved", b"k-3"): (2, b"three")}
_SUBMITS = {0: "SUBMIT_JOB_HIGH_BG", 1: "SUBMIT_JOB_BG", 2: "SUBMIT_JOB_LOW_BG"}

REDIS = ("127.0.0.1", 6379)
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"


def redis_client(port: int = REDIS[1], password: str | None = None) -> Any:
    """A redis-py client on 127.0.0.1:``port``, or skip/fail when Redis does not answer."""
    try:
        import redis
    except ImportError:
        require(False, "redis-py is missing: pip install 'gearmand-py[redis]'")
    client = redis.Redis(host="127.0.0.1", port=port, password=password,
                         socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        require(False, f"Redis at 127.0.0.1:{port} does not answer ({exc}); "
                       "start it with: redis-server --daemonize yes")
    return client


class _Process:
    """A private server process on a free port, started until it answers; ``kill`` is kill -9,
    as a crash or power cut would end it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> None:
        """Return once the server answers; raise while it does not."""
        raise NotImplementedError

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                return self.answers()
            except BaseException:  # includes the skip/fail of a prerequisite not yet up
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()


class RedisServer(_Process):
    """A private redis-server in ``directory``, appending every write to its AOF with fsync
    (``appendfsync always``), so a restart keeps every acknowledged write, unless
    ``persistence`` gives other options; ``password`` sets ``requirepass``."""

    def __init__(self, directory: Path, *persistence: str, password: str | None = None) -> None:
        require(Path(REDIS_SERVER).exists(),
                "redis-server is missing: apt-get install redis-server")
        super().__init__()
        self.directory = directory
        self.persistence = persistence or ("--appendonly", "yes", "--appendfsync", "always",
                                           "--save", "")
        self.password = password
        self.start()

    def command(self) -> list[str]:
        return [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                str(self.directory), *self.persistence,
                *(["--requirepass", self.password] if self.password else [])]

    def answers(self) -> None:
        redis_client(self.port, self.password).close()


class MemcachedServer(_Process):
    """A private memcached: ``-m`` MiB of memory, items up to ``-I``."""

    def __init__(self, memory_mb: int = 256, max_item: str = "8m") -> None:
        require(Path(MEMCACHED).exists(), "memcached is missing: apt-get install memcached")
        require(importlib.util.find_spec("pymemcache"),
                "pymemcache is missing: pip install 'gearmand-py[memcached]'")
        super().__init__()
        self.args = ["-m", str(memory_mb), "-I", max_item]
        self.start()

    def command(self) -> list[str]:
        return [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-u", "nobody",
                *self.args]

    def answers(self) -> None:
        from pymemcache.client.base import Client

        Client(("127.0.0.1", self.port), connect_timeout=1).version()


class _Store:
    """A queue backend's settings and the queues a test opened on them (closed at cleanup)."""

    kind: str

    def __init__(self, queue_settings: QueueConfig) -> None:
        self.settings = queue_settings
        self.opened: list[QueueBackend] = []

    def open(self, **overrides: Any) -> QueueBackend:
        queue = open_backend(replaced(self.settings, **overrides))
        assert queue is not None
        self.opened.append(queue)
        return queue

    def cleanup(self) -> None:
        for queue in self.opened:
            queue.close()


class RedisStore(_Store):
    """The Redis queue with a key prefix of its own, on a private Redis or (``server`` None) the
    machine's; the contract tests treat it like a database with a fresh table."""

    kind = "redis"

    def __init__(self, server: RedisServer | None = None, prefix: str | None = None) -> None:
        self.server = server
        self.prefix = prefix or f"gq_{uuid.uuid4().hex[:12]}"
        self.port = server.port if server else REDIS[1]
        self.admin = redis_client(self.port, server.password if server else None)
        super().__init__(settings(queue_type="redis", redis_server="127.0.0.1",
                                  redis_port=str(self.port), redis_prefix=self.prefix))

    def keys(self) -> list[bytes]:
        """Every key under this store's prefix."""
        return sorted(self.admin.scan_iter(match=f"{self.prefix}*", count=1000))

    def cleanup(self) -> None:
        super().cleanup()
        keys = self.keys()
        for start in range(0, len(keys), 1000):
            self.admin.delete(*keys[start:start + 1000])
        self.admin.close()
        if self.server is not None:
            self.server.kill()


class MemcachedStore(_Store):
    """The memcached queue on a private memcached, with gearmand's default prefix."""

    kind = "memcached"

    def __init__(self, server: MemcachedServer | None = None) -> None:
        self.server = server or MemcachedServer()
        super().__init__(settings(queue_type="libmemcached",
                                  libmemcached_servers=f"127.0.0.1:{self.server.port}"))

    def cleanup(self) -> None:
        super().cleanup()
        self.server.kill()


def fill_with_gearmand(*queue_options: str) -> None:
    """Debian's gearmand 1.1.20 with these queue options stores GEARMAND_JOBS, then stops."""
    require(gearmand_available(), "Debian's gearmand is missing")
    old = start_server("gearmand", list(queue_options))
    try:
        client = Conn(old.address)
        for (function, unique), (priority, data) in GEARMAND_JOBS.items():
            client.send(_SUBMITS[priority], function, unique, data)
            assert client.recv_packet().name == "JOB_CREATED"
    finally:
        old.stop()
