"""The processing thread's records: jobs, functions and peers (connections as the core sees them).

Only the processing thread touches these. ``__slots__`` keeps a queued job small: memory per
queued job is one of the figures gearmand-py is compared on.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

from mypy_extensions import i32, mypyc_attr, u8

if TYPE_CHECKING:
    from gearmand_py.protocol.codec import Reply

HIGH: Final = 0
NORMAL: Final = 1
LOW: Final = 2
PRIORITIES: Final = (HIGH, NORMAL, LOW)
NO_PROGRESS: Final[tuple[int, ...]] = (0, 0)
#: The most worker losses a job counts (``Job.retries`` is 32 bits in the compiled build).
MAX_RETRIES: Final = 2**31 - 1
#: Unsent output (bytes) past which a peer counts as not reading: what produces more for it
#: waits until it drains, so a peer that does not read cannot make the server buffer without bound.
HIGH_WATER = 4 * 1024 * 1024

# Why a job leaves the tables: the engine names it to ``Engine._forget``, the monitor counts by
# it. A job an admin ``cancel job`` ended counts as cancelled whatever happens to it afterwards.
COMPLETED: Final = "completed"
FAIL: Final = "fail"  # WORK_FAIL
EXCEPTION: Final = "exception"  # WORK_EXCEPTION
TIMEOUT: Final = "timeout"  # CAN_DO_TIMEOUT
RETRIES: Final = "retries"  # -j: dropped after that many worker losses
CANCELLED: Final = "cancelled"
ABANDONED: Final = "abandoned"  # a foreground job every client left before a worker took it
QUEUE_ERROR: Final = "queue_error"  # its row could not be stored
HANDED_OVER: Final = "handed_over"  # --shared-queue: left to the shared store (not a failure)
#: Every reason, ``completed`` first.
REASONS: Final = (COMPLETED, FAIL, EXCEPTION, TIMEOUT, RETRIES, CANCELLED, ABANDONED,
                  QUEUE_ERROR, HANDED_OVER)


class Job:
    """One job; background jobs have no clients of their own, foreground jobs have at least one.

    The compiled build lays the fields out in the order ``__init__`` sets them: the references
    first, then the small fields, which share one word there (``priority`` and ``retries`` are
    fixed-width for that): see docs/benchmarks.md, "A queued job in 128 bytes"."""

    __slots__ = ("handle", "function", "unique", "data", "reducer", "clients", "worker",
                 "progress", "when", "queue_id", "priority", "background", "cancelled",
                 "abandoned", "retries")

    def __init__(self, handle: bytes, function: Function, unique: bytes,
                 data: bytes | memoryview, priority: int, background: bool, reducer: bytes = b"",
                 when: int = 0) -> None:
        self.handle = handle
        self.function = function
        self.unique = unique
        self.data = data
        self.reducer = reducer
        #: The waiting clients; a background job usually has none, so it shares the empty tuple
        #: until a foreground submit coalesces onto it (saves a list per queued job).
        self.clients: list[Peer] | tuple[()] = ()
        self.worker: Peer | None = None
        #: The last WORK_STATUS (numerator, denominator), shared ``NO_PROGRESS`` until one. Typed
        #: as any tuple so that the compiled build keeps a reference, not two numbers inline.
        self.progress: tuple[int, ...] = NO_PROGRESS
        self.when = when
        #: The job's row id in the persistent queue; 0 when it has none.
        self.queue_id = 0
        self.priority: u8 = priority
        self.background = background
        #: ``cancel job`` ended it: it is dropped, not run, when a worker reaches it.
        self.cancelled = False
        #: Every foreground client left it: it is dropped, not run, when a worker reaches it
        #: (as gearmand does), unless a client submits it again first. gearmand has one flag
        #: for both (``ignore_job``, which ``show jobs`` prints as IGNORE_JOB).
        self.abandoned = False
        #: Workers that let go of it without an answer (``-j`` drops it at that many).
        self.retries: i32 = 0


class TimedJob(Job):
    """A job with the times the monitor shows and measures (``Job`` stays small without it).
    Here rather than with the monitor's counting engine so that it is compiled with ``Job``:
    a class interpreted code may extend cannot keep its small fields in one word."""

    __slots__ = ("queued_at", "assigned_at")

    #: Since when it waits for a worker (for an epoch job not due when submitted, since its due
    #: time once that comes).
    queued_at: float
    #: When its worker took it; None while no worker holds it.
    assigned_at: float | None


def coalescing_key(unique: bytes, data: bytes | memoryview) -> Any:
    """The key in ``Function.uniques`` under which submits coalesce, or None when they do not:
    the unique itself, or for the unique ``-`` the data (a submit turns a large field's
    memoryview into bytes first: keys must be hashable)."""
    if unique == b"-":
        return (b"-", data) if data else None
    return unique or None


@mypyc_attr(allow_interpreted_subclasses=True)
class Function:
    """A function name with its three FIFO queues and the workers that can do it."""

    __slots__ = ("name", "queues", "uniques", "worker_head", "worker_count", "job_total",
                 "job_running", "scheduled", "max_queue", "declared")

    def __init__(self, name: bytes) -> None:
        self.name = name
        self.queues: tuple[deque[Job], deque[Job], deque[Job]] = (deque(), deque(), deque())
        self.uniques: dict[Any, Job] = {}
        #: The workers as gearmand keeps them: a circular list with one entry per CAN_DO, whose
        #: head is where the next wake-up walk starts; None when no worker can do it.
        self.worker_head: Ability | None = None
        #: Entries in that list (duplicate CAN_DOs count twice, as in gearmand's ``status``).
        self.worker_count = 0
        #: Queued plus running jobs, as gearmand's ``job_total``.
        self.job_total = 0
        self.job_running = 0
        #: Epoch jobs waiting for their time, outside the queues.
        self.scheduled = 0
        self.max_queue = [0, 0, 0]
        #: Made by the admin command ``create function``: kept while idle (``functions``).
        self.declared = False

    def add_worker(self, worker: Peer) -> Ability:
        """Enter one CAN_DO just before the head, so the walk reaches it last (as gearmand)."""
        ability = Ability(worker, self)
        head = self.worker_head
        if head is None:
            self.worker_head = ability
        else:
            ability.next = head
            ability.prev = head.prev
            head.prev.next = ability
            head.prev = ability
        self.worker_count += 1
        return ability

    def remove_worker(self, ability: Ability) -> None:
        """Take one entry out in constant time, however many workers the function has (a
        per-function list scan made N disconnects cost N squared); the head moves on past it."""
        if ability.next is ability:
            self.worker_head = None
        else:
            ability.next.prev = ability.prev
            ability.prev.next = ability.next
            if self.worker_head is ability:
                self.worker_head = ability.next
        # A removed entry keeps no links: no cycle is left for the garbage collector.
        del ability.next, ability.prev
        self.worker_count -= 1

    def drop_unique(self, job: Job) -> None:
        """Submits no longer coalesce onto ``job`` (if they still did)."""
        key = coalescing_key(job.unique, job.data)
        if key is not None and self.uniques.get(key) is job:
            del self.uniques[key]


class Ability:
    """One CAN_DO of one worker: an entry in its function's circular worker list."""

    __slots__ = ("worker", "function", "next", "prev")
    #: ``Function.remove_worker`` deletes the links (the compiled build must be told).
    __deletable__ = ("next", "prev")

    def __init__(self, worker: Peer, function: Function) -> None:
        self.worker = worker
        self.function = function
        self.next: Ability = self
        self.prev: Ability = self


class Hold:
    """A reply whose bytes are not known yet (a JOB_CREATED waiting for its commit); later output
    for the same connection queues behind it, so replies keep the order of the requests."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: Reply | None = None


@mypyc_attr(allow_interpreted_subclasses=True)
class Peer:
    """One connection as the processing thread sees it: a client, a worker, an admin, or all."""

    __slots__ = ("endpoint", "fd", "ip", "client_id", "exceptions", "functions", "timeouts",
                 "abilities", "sleeping", "noop_sent", "running", "client_jobs", "out", "backlog",
                 "gone", "closing", "stalled", "parked", "blocked_on", "waiters")

    def __init__(self, endpoint: Any, fd: int, ip: str, exceptions: bool = False) -> None:
        #: The I/O side's handle for this connection; opaque to the core.
        self.endpoint = endpoint
        self.fd = fd
        self.ip = ip
        self.client_id = b"-"
        self.exceptions = exceptions
        #: Abilities, newest CAN_DO first (gearmand prepends).
        self.functions: list[Function] = []
        #: CAN_DO_TIMEOUT seconds per function, for functions that have one.
        self.timeouts: dict[Function, float] = {}
        #: This worker's entries in its functions' worker lists, one per CAN_DO.
        self.abilities: list[Ability] = []
        self.sleeping = False
        self.noop_sent = False
        #: Jobs this worker holds, in assignment order.
        self.running: list[Job] = []
        #: Foreground jobs this client waits for (a dict used as an ordered set).
        self.client_jobs: dict[Job, None] = {}
        #: Bytes produced for this connection during the current processing turn (a packet with
        #: a large field is a ``codec.Spread``).
        self.out: list[Any] = []
        #: Output queued behind an unresolved Hold; None when nothing is held.
        self.backlog: list[Reply | Hold] | None = None
        self.gone = False
        self.closing = False
        #: Its output is over HIGH_WATER: set by the server (unsent bytes) or by the core (one
        #: ``receive`` produced that much), cleared by the server through ``Engine.drained``.
        self.stalled = False
        #: Its events not yet handled, in order, while it waits for ``blocked_on`` to drain (the
        #: server stops reading from it meanwhile); None when it is not parked.
        self.parked: list[Any] | None = None
        #: The stalled peer (a client it relays to, or itself) whose drain it waits for.
        self.blocked_on: Peer | None = None
        #: Peers parked until this one drains; None when there are none.
        self.waiters: list[Peer] | None = None
