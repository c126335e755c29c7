"""Jobs and job requests as python-gearman 2.0.2 shapes them, and how data crosses the wire.

Python 3 scripts pass ``str`` where python-gearman's took byte strings, so ``TextEncoder`` (the
default) sends ``str`` as UTF-8 and hands received data back as ``str`` decoded with
``surrogateescape``: arbitrary bytes survive an echo unchanged. ``BytesEncoder`` keeps bytes.
"""

from __future__ import annotations

import collections
from typing import Any

from gearmand_py.protocol.packets import NUMBERS

PRIORITY_NONE = None
PRIORITY_LOW = "LOW"
PRIORITY_HIGH = "HIGH"

JOB_UNKNOWN = "UNKNOWN"
JOB_PENDING = "PENDING"
JOB_CREATED = "CREATED"
JOB_FAILED = "FAILED"
JOB_COMPLETE = "COMPLETE"

#: (priority, background) -> the SUBMIT packet type.
SUBMIT_TYPES = {
    (PRIORITY_NONE, False): NUMBERS.SUBMIT_JOB,
    (PRIORITY_NONE, True): NUMBERS.SUBMIT_JOB_BG,
    (PRIORITY_HIGH, False): NUMBERS.SUBMIT_JOB_HIGH,
    (PRIORITY_HIGH, True): NUMBERS.SUBMIT_JOB_HIGH_BG,
    (PRIORITY_LOW, False): NUMBERS.SUBMIT_JOB_LOW,
    (PRIORITY_LOW, True): NUMBERS.SUBMIT_JOB_LOW_BG,
}


def to_bytes(value: str | bytes | bytearray | memoryview) -> bytes:
    """A name, unique or handle as wire bytes (``str`` as UTF-8)."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


class TextEncoder:
    """``str`` in and out; see the module docstring."""

    @classmethod
    def encode(cls, value: Any) -> bytes:
        return to_bytes(value)

    @classmethod
    def decode(cls, data: bytes) -> Any:
        return bytes(data).decode("utf-8", "surrogateescape")


class BytesEncoder(TextEncoder):
    """Received data stays ``bytes``."""

    @classmethod
    def decode(cls, data: bytes) -> Any:
        return bytes(data)


class GearmanJob:
    """A job as a worker sees it (and the job inside a client's request)."""

    def __init__(self, connection: Any, handle: Any, task: Any, unique: Any, data: Any,
                 reducer: Any = "") -> None:
        self.connection = connection
        self.handle = handle
        self.task = task
        self.unique = unique
        self.data = data
        #: The function a reduce job's parts go to (JOB_ASSIGN_ALL); empty for other jobs.
        self.reducer = reducer

    def to_dict(self) -> dict[str, Any]:
        return dict(task=self.task, job_handle=self.handle, unique=self.unique, data=self.data)

    def __repr__(self) -> str:
        return (f"<GearmanJob connection/handle=({self.connection!r}, {self.handle!r}), "
                f"task={self.task}, unique={self.unique}, data={self.data!r}>")


class GearmanJobRequest:
    """A client's submitted job and everything the server reported about it."""

    def __init__(self, gearman_job: GearmanJob, initial_priority: str | None = PRIORITY_NONE,
                 background: bool = False, max_attempts: int = 1) -> None:
        if (initial_priority, background) not in SUBMIT_TYPES:
            raise ValueError(f"unknown priority {initial_priority!r}")
        self.gearman_job = gearman_job
        self.priority = initial_priority
        self.background = background
        self.connection_attempts = 0
        self.max_connection_attempts = max_attempts
        self.initialize_request()

    def initialize_request(self) -> None:
        self.result: Any = None
        self.exception: Any = None
        self.warning_updates: collections.deque[Any] = collections.deque()
        self.data_updates: collections.deque[Any] = collections.deque()
        self.status: dict[str, Any] = {}
        self.state = JOB_UNKNOWN
        self.timed_out = False

    @property
    def job(self) -> GearmanJob:
        return self.gearman_job

    @property
    def complete(self) -> bool:
        if self.background:
            return self.state == JOB_CREATED
        return self.state in (JOB_FAILED, JOB_COMPLETE)

    @property
    def submit_type(self) -> int:
        return SUBMIT_TYPES[(self.priority, self.background)]

    @property
    def submit_fields(self) -> tuple[bytes, ...]:
        """The SUBMIT packet's fields between the unique and the data (an epoch job's time, a
        reduce job's reducer); none for python-gearman's six submit types."""
        return ()

    def __repr__(self) -> str:
        return (f"<GearmanJobRequest task={self.job.task!r}, unique={self.job.unique!r}, "
                f"priority={self.priority!r}, background={self.background!r}, "
                f"state={self.state!r}, timed_out={self.timed_out!r}>")
