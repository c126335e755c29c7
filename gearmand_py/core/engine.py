"""The processing core: every job table, and what each request does to them.

``Engine`` is a pure state machine with no sockets and no threads: the server feeds it decoded
events per connection and collects the bytes it produced for each connection after every turn
(``take_output``). Only the processing thread calls it, so nothing here needs a lock.

Rules kept here (gearmand 1.1.20 unless a line says otherwise):
- A function is created on first reference and never removed automatically.
- (function, unique) coalesces: an empty unique never does; ``-`` with data keys on the data.
  A foreground submit attaches to the existing job, queued or running; a background one is a no-op.
- Priority is global across a worker's functions (HIGH of any function before NORMAL), as gearmand
  2.0 fixed it; within a priority the worker's functions are tried newest CAN_DO first, and ``-R``
  moves a function to the back after each job taken from it.
- A sleeping worker gets at most one NOOP until it grabs again; ``-w N`` wakes at most N sleeping
  workers per queued job, rotating among them.
- A worker that goes away (or CANT_DOes a running job's function) puts its jobs back at the tail
  of their queues, most recently assigned first; ``-j N`` drops a job after N attempts and fails it.
- A foreground job whose clients all left is dropped when a worker would have taken it; a running
  one runs on and its results go nowhere. Background jobs never depend on clients.
- An epoch job waits outside the queues until its time, then joins the tail of its queue and wakes
  sleeping workers, so it neither runs late nor hides runnable jobs (gearmand 2.0's fix).
- CAN_DO_TIMEOUT: a worker holding a job past its function's timeout fails the job (clients get
  WORK_FAIL) and a late result from it gets JOB_NOT_FOUND, as the protocol says (gearmand 1.1.20
  silently requeues).
- Numbers in requests are read as gearmand's C library reads them (``protocol.numbers``); an
  epoch or CAN_DO_TIMEOUT beyond 64 bits, which gearmand fails without a reply, gets an ERROR.
- ``cancel job`` fails the job to its clients and drops it; gearmand's quirk of leaving it in the
  tables until a worker reaches it is kept, so ``status`` counts it until then.
- With a persistent queue, a new background job is journaled and answered JOB_CREATED (and
  queued) only once its row is committed; a failed commit answers ERROR QUEUE_ERROR and drops it.
  Later replies to the same connection wait behind that JOB_CREATED, so order is kept. Its row is
  deleted when it completes, fails, is cancelled or runs out of retries.
- A peer whose unsent output passes HIGH_WATER is stalled (gearmand buffers without bound): a
  worker relaying to a stalled client has its further requests parked and is not read until the
  client drains or leaves; a stalled peer's own admin lines wait the same way. Parked requests
  of a peer that leaves still take effect.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from mypy_extensions import mypyc_attr

from gearmand_py.core.functions import FunctionTable
from gearmand_py.core.model import (
    ABANDONED,
    CANCELLED,
    COMPLETED,
    EXCEPTION,
    FAIL,
    HANDED_OVER,
    HIGH,
    HIGH_WATER,
    LOW,
    MAX_RETRIES,
    NO_PROGRESS,
    NORMAL,
    PRIORITIES,
    QUEUE_ERROR,
    RETRIES,
    TIMEOUT,
    Function,
    Hold,
    Job,
    Peer,
    coalescing_key,
)
from gearmand_py.core.timers import Timer, Timers
from gearmand_py.logs import NOTICE
from gearmand_py.protocol import errors
from gearmand_py.protocol.codec import RESPONSE_HEADS, Reply, encode, encode_fields
from gearmand_py.protocol.events import AdminCommand, Args, Event, Fatal, Packet, Rejected
from gearmand_py.protocol.numbers import INT64_MAX, INT64_MIN, atou32, strtoll
from gearmand_py.protocol.packets import NUMBERS as T
from gearmand_py.protocol.packets import REQUEST_TYPES, TYPE_LIMIT, PacketType
from gearmand_py.verbosity import verbosity
from queue_backends.base import StoredJob

log = logging.getLogger("gearmand_py.core")

#: Journal operations sent to the queue writer: (JOURNAL_ADD, job, row) and (JOURNAL_DONE, id);
#: with a shared queue (``core.sharing``) an add also says whether this server keeps the job, a
#: done may carry what to call once the row is deleted, and there are (JOURNAL_START, id), (JOURNAL_RELEASE, ids), (JOURNAL_DEMAND, applied,
#: {function: jobs wanted}) and (JOURNAL_ASK, (question, id), callback) (see ``ask_store``).
JOURNAL_ADD: Final = 0
JOURNAL_DONE: Final = 1
JOURNAL_START: Final = 2
JOURNAL_RELEASE: Final = 3
JOURNAL_DEMAND: Final = 4
JOURNAL_ASK: Final = 5

MAX_UNIQUE: Final = 64
#: gearmand documents 512 but checks the reducer against the unique's limit; clients see 64.
MAX_REDUCER: Final = 64
#: gearmand refuses a CAN_DO_TIMEOUT whose timeout field is longer than this.
MAX_TIMEOUT_FIELD: Final = 20
MAX_CLIENT_ID: Final = 127
#: Bytes of a function name, unique or handle a log line shows.
LOGGED_NAME: Final = 256

# What the per-job handlers name, as Final constants: the compiled build reads each from a C
# static, where ``T.JOB_ASSIGN`` or ``errors.JOB_NOT_FOUND_RESULT`` is two dictionary lookups.
_JOB_ASSIGN: Final = int(PacketType.JOB_ASSIGN)
_JOB_ASSIGN_UNIQ: Final = int(PacketType.JOB_ASSIGN_UNIQ)
_JOB_ASSIGN_ALL: Final = int(PacketType.JOB_ASSIGN_ALL)
_WORK_STATUS: Final = int(PacketType.WORK_STATUS)
_WORK_COMPLETE: Final = int(PacketType.WORK_COMPLETE)
_WORK_FAIL: Final = int(PacketType.WORK_FAIL)
_WORK_EXCEPTION: Final = int(PacketType.WORK_EXCEPTION)
_NOT_FOUND_DATA: Final = errors.JOB_NOT_FOUND_DATA
_NOT_FOUND_RESULT: Final = errors.JOB_NOT_FOUND_RESULT
_NOT_FOUND_EXCEPTION: Final = errors.JOB_NOT_FOUND_EXCEPTION

NOOP: Final = encode(T.NOOP)
NO_JOB: Final = encode(T.NO_JOB)
_JOB_CREATED_HEAD: Final[bytes] = RESPONSE_HEADS[T.JOB_CREATED]
_PRIORITY_NAMES: Final = {HIGH: "high", NORMAL: "normal", LOW: "low"}


def job_created(handle: bytes) -> bytes:
    """JOB_CREATED, the hottest reply of all, from a prebuilt header instead of ``encode``."""
    return _JOB_CREATED_HEAD + len(handle).to_bytes(4, "big") + handle

# SUBMIT_* type -> (priority, background)
_SUBMIT_KINDS: Final[dict[int, tuple[int, bool]]] = {
    T.SUBMIT_JOB: (NORMAL, False),
    T.SUBMIT_JOB_HIGH: (HIGH, False),
    T.SUBMIT_JOB_LOW: (LOW, False),
    T.SUBMIT_JOB_BG: (NORMAL, True),
    T.SUBMIT_JOB_HIGH_BG: (HIGH, True),
    T.SUBMIT_JOB_LOW_BG: (LOW, True),
}


@dataclass(frozen=True)
class EngineOptions:
    """The server settings the core obeys."""

    job_handle_prefix: bytes
    worker_wakeup: int = 0
    round_robin: bool = False
    job_retries: int = 0
    exceptions: bool = False


class RequestFailed(Exception):
    """A request's handler raised (a bug): the message names the request, the cause is the
    handler's exception."""


def _stored_status(handle: bytes, known_running: tuple[bool, bool] | None) -> Reply:
    """STATUS_RES of a job that only the shared store knows (its progress is not stored)."""
    known, running = known_running or (False, False)
    return encode(T.STATUS_RES, handle, b"1" if known else b"0", b"1" if running else b"0",
                  b"0", b"0")


def log_failure(peer: Peer, exc: RequestFailed) -> None:
    """The one log record of a request whose handling raised: the request, the connection and
    the handler's traceback (the connection is closed)."""
    log.error("internal error handling %s on connection %s (%s); closing it",
              exc, peer.fd, peer.ip, exc_info=exc.__cause__)


def _text(value: bytes | memoryview) -> str:
    """A name or handle as a log line shows it: a peer may send a name of any length (as the
    last field of a packet, a view of it), the line shows its start."""
    return bytes(value[:LOGGED_NAME]).decode(errors="replace")


def describe(event: Event | None) -> str:
    """A request as a log line names it: its packet type, or its admin command word."""
    if event.__class__ is tuple:
        return PacketType(event[0]).name  # type: ignore[index,arg-type]
    if event.__class__ is AdminCommand:
        word = event[0][0][:32]  # type: ignore[index]
        return f"admin command {word.decode(errors='replace')!r}"
    return type(event).__name__


@mypyc_attr(allow_interpreted_subclasses=True)
class Engine:
    """All job state, and the handlers that change it."""

    def __init__(self, options: EngineOptions,
                 admin: Callable[[Engine, Peer, tuple[bytes, ...]], bytes] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.options = options
        #: Whether the driver sets ``now`` to the clock before each batch of events and before
        #: due timers: the counting engine's times are those of the batch, one clock read for
        #: all its events. The plain engine reads the clock only where it must be exact (epoch
        #: jobs, CAN_DO_TIMEOUT), so its driver need not. An instance attribute, not a class
        #: one: the compiled engine reads its own class's default, not a subclass's.
        self.times_batches = False
        self.clock = clock
        #: The time of the batch being run (see ``times_batches``).
        self.now = clock()
        #: What makes new connections (``new_job`` makes jobs): the counting engine's carry
        #: the monitor's times in slots, which cost less per connection than a table.
        self.peer_class: type[Peer] = Peer
        self.timers = Timers()
        #: The CAN_DO_TIMEOUT timer of each running job whose worker set one.
        self._deadlines: dict[Job, Timer] = {}
        #: Where journal operations go when a persistent queue is on (the queue writer).
        self.journal: Callable[[tuple[Any, ...]], None] | None = None
        #: A ``sharing.Sharing`` with --shared-queue (it is then also the journal), else None.
        self.shared: Any = None
        #: Stop (True) or resume (False) reading from a peer while its events are parked.
        self.throttle: Callable[[Peer, bool], None] = lambda peer, paused: None
        self.next_queue_id = 1
        self.functions = FunctionTable()
        self.jobs: dict[bytes, Job] = {}
        self.peers: dict[Any, Peer] = {}
        self._handle_count = 0
        self._handle_prefix = options.job_handle_prefix + b":"
        #: The peers with output (or a pending close) not yet taken: the processing thread
        #: looks here before it calls ``take_output``.
        self.dirty: list[Peer] = []
        #: Workers asleep with no NOOP outstanding: ``_wake`` has nothing to do while it is empty.
        self.sleepers: set[Peer] = set()
        #: The jobs whose rows the queue writer is committing, each with the submitters waiting
        #: for its JOB_CREATED; a job here is in no queue yet.
        self.committing: dict[Job, list[tuple[Peer, Hold]]] = {}
        self._admin = admin
        self._handlers: dict[int, Callable[[Peer, Args], None]] = {
            T.CAN_DO: self._can_do,
            T.CANT_DO: self._cant_do,
            T.RESET_ABILITIES: self._reset_abilities,
            T.PRE_SLEEP: self._pre_sleep,
            T.GRAB_JOB: self._grab_job,
            T.GRAB_JOB_UNIQ: self._grab_job_uniq,
            T.GRAB_JOB_ALL: self._grab_job_all,
            T.WORK_DATA: partial(self._work_data, T.WORK_DATA),
            T.WORK_WARNING: partial(self._work_data, T.WORK_WARNING),
            T.WORK_STATUS: self._work_status,
            T.WORK_COMPLETE: self._work_complete,
            T.WORK_FAIL: self._work_fail,
            T.WORK_EXCEPTION: self._work_exception,
            T.GET_STATUS: self._get_status,
            T.GET_STATUS_UNIQUE: self._get_status_unique,
            T.ECHO_REQ: self._echo,
            T.SET_CLIENT_ID: self._set_client_id,
            T.OPTION_REQ: self._option_req,
            T.SUBMIT_REDUCE_JOB: partial(self._submit_reduce, False),
            T.SUBMIT_REDUCE_JOB_BACKGROUND: partial(self._submit_reduce, True),
            T.SUBMIT_JOB_EPOCH: self._submit_epoch,
            T.CAN_DO_TIMEOUT: self._can_do_timeout,
        }
        for ptype, (priority, background) in _SUBMIT_KINDS.items():
            self._handlers[ptype] = self._submitter(priority, background)
        # Response-only types, and requests gearmand never implemented (SUBMIT_JOB_SCHED,
        # ALL_YOURS), get ERROR INVALID_COMMAND.
        for ptype in range(1, TYPE_LIMIT):
            if ptype not in REQUEST_TYPES:
                self._handlers[ptype] = self._not_expected

    # -- connections -------------------------------------------------------------------------

    def connect(self, endpoint: Any, fd: int, ip: str) -> Peer:
        """Register a new connection; ``endpoint`` is how the I/O side will know it again."""
        peer = self.peer_class(endpoint, fd, ip, self.options.exceptions)
        self.peers[endpoint] = peer
        return peer

    def disconnect(self, peer: Peer) -> None:
        """Forget a connection: requeue what it was running, abandon what it was waiting for."""
        if peer.gone:
            return
        if verbosity.info:
            log.info("Connection %d (%s) closed", peer.fd, peer.ip)
        if peer.parked is not None:
            self._run_parked_before_leaving(peer)
        peer.gone = True
        peer.stalled = False
        peer.out.clear()
        self.peers.pop(peer.endpoint, None)
        self.sleepers.discard(peer)
        self._drop_abilities(peer, None)
        for job in peer.client_jobs:
            job.clients.remove(peer)  # type: ignore[union-attr]
            if not job.clients and not job.background:
                # Queued: never handed out. Running: runs on, but is not run again if requeued.
                job.abandoned = True
        peer.client_jobs.clear()
        self._release_waiters(peer)

    def receive(self, peer: Peer, events: Iterable[Event]) -> None:
        """Run one connection's events in order; a handler's failure is raised as
        RequestFailed, naming the request."""
        handlers = self._handlers
        events = iter(events)
        produced = 0  # admin reply bytes: one recv can hold thousands of admin lines
        event: Event | None = None
        try:
            for event in events:
                if peer.gone or peer.closing or peer.parked is not None:
                    if peer.parked is not None and not (peer.gone or peer.closing):
                        peer.parked.append(event)
                        peer.parked.extend(events)
                    return
                # type(), not .__class__, and a Packet declared as one: the compiled build reads
                # the type and the fields directly, where the others are generic lookups (and
                # a declaration, unlike cast(), costs pure Python nothing)
                if type(event) is tuple:
                    packet: Packet = event  # type: ignore[assignment]
                    handlers[packet[0]](peer, packet[1])
                elif type(event) is AdminCommand:
                    if self._admin is not None:
                        if peer.stalled:  # answer the rest once its own output has drained
                            parked = self._block(peer, peer)
                            parked.append(event)
                            parked.extend(events)
                            return
                        reply = self._admin(self, peer, event[0])
                        self.send(peer, reply)
                        produced += len(reply)
                        if produced > HIGH_WATER:
                            peer.stalled = True
                elif type(event) is Rejected:
                    self.send(peer, encode(T.ERROR, event[0], event[1]))
                else:
                    assert isinstance(event, Fatal)
                    log.info("closing connection %s (%s): %s", peer.fd, peer.ip, event.reason)
                    if event.code:
                        self.send(peer, encode(T.ERROR, event.code, event.text))
                    self.close(peer)
        except Exception as exc:
            raise RequestFailed(describe(event)) from exc

    # -- output that is not read ---------------------------------------------------------------

    def drained(self, peer: Peer) -> None:
        """The server reports ``peer``'s unsent output back under HIGH_WATER: run the events
        parked until then, in the order they came."""
        peer.stalled = False
        self._release_waiters(peer)

    def _release_waiters(self, peer: Peer) -> None:
        waiters = peer.waiters
        if waiters is None:
            return
        peer.waiters = None
        for waiter in waiters:
            if not self._receive_parked(waiter, self._unpark(waiter)):
                self.close(waiter)
            elif waiter.parked is None:  # not blocked again by what it just did
                self.throttle(waiter, False)

    def _receive_parked(self, peer: Peer, events: list[Event]) -> bool:
        """``receive`` for parked events, whose failure must cost ``peer`` only, not the peer
        whose drain or departure let them run; False if one failed (logged)."""
        try:
            self.receive(peer, events)
        except RequestFailed as exc:
            log_failure(peer, exc)
            return False
        return True

    def _block(self, peer: Peer, on: Peer) -> list[Event]:
        """Park ``peer``'s further events until ``on`` (stalled) drains, and stop reading it;
        the list its events are parked in."""
        if peer.parked is not None:
            return peer.parked
        parked: list[Event] = []
        peer.parked = parked
        peer.blocked_on = on
        if on.waiters is None:
            on.waiters = [peer]
        else:
            on.waiters.append(peer)
        self.throttle(peer, True)
        return parked

    def _unpark(self, peer: Peer) -> list[Event]:
        """Take ``peer`` off the waiters of the peer it waits for; return its parked events."""
        events, peer.parked = peer.parked or [], None
        on, peer.blocked_on = peer.blocked_on, None
        waiters = on.waiters if on is not None else None
        if waiters is not None and peer in waiters:
            waiters.remove(peer)
            if not waiters:
                on.waiters = None  # type: ignore[union-attr]
        return events

    def _run_parked_before_leaving(self, peer: Peer) -> None:
        """A parked peer is going away: what it sent before still takes effect (a WORK_COMPLETE
        must not turn into a requeue), however slow the peers it relays to; its own replies
        go nowhere."""
        peer.stalled = False
        for event in self._unpark(peer):
            ok = self._receive_parked(peer, [event])
            peer.out.clear()
            if peer.parked is not None:  # it relayed to a stalled client again
                self._unpark(peer)
            if not ok:
                return

    def close(self, peer: Peer) -> None:
        """Ask the I/O side to close ``peer`` once the output produced so far is written."""
        peer.closing = True
        if not peer.out:
            self.dirty.append(peer)

    def send(self, peer: Peer, data: Reply) -> None:
        """Queue bytes for a connection; they leave with the next ``take_output``."""
        if peer.gone:
            return
        if peer.backlog is not None:
            peer.backlog.append(data)
            return
        if not peer.out and not peer.closing:
            self.dirty.append(peer)
        peer.out.append(data)

    def _hold(self, peer: Peer) -> Hold:
        """Reserve the connection's next reply; everything sent after it waits for it."""
        hold = Hold()
        if peer.backlog is None:
            peer.backlog = []
        peer.backlog.append(hold)
        return hold

    def _resolve(self, peer: Peer, hold: Hold, data: Reply) -> None:
        """Fill a reserved reply and release whatever is no longer waiting behind a Hold."""
        hold.data = data
        backlog = peer.backlog
        if peer.gone or backlog is None:
            return
        ready = 0
        for item in backlog:
            if item.__class__ is Hold and item.data is None:  # type: ignore[union-attr]
                break
            ready += 1
        if not ready:
            return
        released = [item.data if item.__class__ is Hold else item  # type: ignore[union-attr]
                    for item in backlog[:ready]]
        del backlog[:ready]
        if not backlog:
            peer.backlog = None
        if not peer.out and not peer.closing:
            self.dirty.append(peer)
        peer.out.extend(released)  # type: ignore[arg-type]

    def take_output(self) -> list[Peer]:
        """The peers with output (or a pending close) since the last call; the caller joins and
        clears each ``peer.out``."""
        dirty = self.dirty
        self.dirty = []
        return dirty

    # -- helpers -------------------------------------------------------------------------------

    def function(self, name: bytes) -> Function:
        """The function called ``name``, created on first reference."""
        return self.functions.get(name) or self.functions.make(name)

    def _error(self, peer: Peer, reply: errors.ErrorReply) -> None:
        self.send(peer, encode(T.ERROR, reply[0], reply[1]))

    def _not_expected(self, peer: Peer, args: Args) -> None:
        self._error(peer, errors.INVALID_COMMAND)

    # -- clients -------------------------------------------------------------------------------

    def _submitter(self, priority: int, background: bool
                   ) -> Callable[[Peer, Args], None]:
        """The handler of one SUBMIT_JOB* type. A closure rather than a ``partial``: Python
        calls a plain function from ``receive`` without leaving the interpreter loop, which
        saves about a quarter of the dispatch cost on the hottest packet; ``self.submit`` in it
        is a direct call in the compiled build (a bound method held here would not be)."""

        def handle(peer: Peer, args: Args) -> None:
            self.submit(peer, args[0], args[1], args[2], priority, background)
        return handle

    def _submit_reduce(self, background: bool, peer: Peer, args: Args) -> None:
        # FUNC, UNIQ, REDUCER, AGGREGATE (ignored, as gearmand ignores it), DATA
        self.submit(peer, args[0], args[1], args[4], NORMAL, background, reducer=args[2])

    def _submit_epoch(self, peer: Peer, args: Args) -> None:
        # FUNC, UNIQ, EPOCH, DATA: background, normal priority, runs at EPOCH (now if past or 0)
        when = strtoll(args[2])
        if when.out_of_range:  # gearmand fails the request without a reply
            self._error(peer, errors.EPOCH_OUT_OF_RANGE)
            return
        self.submit(peer, args[0], args[1], args[3], NORMAL, True, when=max(when.value, 0))

    def submit(self, peer: Peer | None, name: bytes, unique: bytes, data: bytes | memoryview,
               priority: int, background: bool, reducer: bytes = b"", when: int = 0
               ) -> Job | None:
        """Create (or coalesce onto) a job and answer JOB_CREATED; None if refused."""
        if len(unique) > MAX_UNIQUE or len(reducer) > MAX_REDUCER:
            if peer is not None:
                self._error(peer, errors.UNIQUE_TOO_LARGE)
            return None
        function = self.functions.get(name) or self.function(name)
        key: Any = None
        if unique:
            if unique == b"-" and type(data) is memoryview:  # a large field's view
                data = bytes(data)  # keys must be hashable
            key = coalescing_key(unique, data)
        if key is not None:
            job = function.uniques.get(key)
            if job is not None:
                if peer is not None:
                    if not background and peer not in job.clients:
                        if job.clients:
                            job.clients.append(peer)  # type: ignore[union-attr]
                        else:
                            job.clients = [peer]
                        peer.client_jobs[job] = None
                        job.abandoned = False
                    if verbosity.debug:
                        log.debug("Job %s: connection %d (%s) submitted it again",
                                  _text(job.handle), peer.fd, peer.ip)
                    self._created(peer, job)
                return job
        limit = function.max_queue[priority]
        if limit and function.job_total >= limit:
            if peer is not None:
                self._error(peer, errors.QUEUE_FULL)
            return None
        self._handle_count += 1
        handle = self._handle_prefix + b"%d" % self._handle_count
        job = self.new_job(handle, function, unique, data, priority, background, reducer, when)
        self.jobs[handle] = job
        if verbosity.debug:
            log.debug("Job %s created: function %s, unique %r, %s priority, %s, %s", _text(handle),
                      _text(name), _text(unique), _PRIORITY_NAMES[priority],
                      "background" if background else "foreground",
                      "replayed" if peer is None else f"from connection {peer.fd} ({peer.ip})")
        if key is not None:
            function.uniques[key] = job
        function.job_total += 1
        if not background:
            if peer is not None:
                job.clients = [peer]
                peer.client_jobs[job] = None
        elif self.journal is not None:
            if self.shared is None:
                job.queue_id = self.next_queue_id
                self.next_queue_id += 1
            else:  # the handle's number, so that any server finds the row from the handle
                job.queue_id = self.next_queue_id + self._handle_count - 1
            self.committing[job] = []
            self.journal((JOURNAL_ADD, job, StoredJob(job.queue_id, unique, name, priority, data,
                                                      when, reducer)))
            if peer is not None:
                self._created(peer, job)
            return job
        if peer is not None:
            self.send(peer, job_created(handle))
        if when:
            self._enqueue(job)
        else:
            function.queues[priority].append(job)
            if function.worker_head is not None:
                self._wake(function)
        return job

    def new_job(self, handle: bytes, function: Function, unique: bytes, data: bytes | memoryview,
                priority: int, background: bool, reducer: bytes, when: int) -> Job:
        """The job ``submit`` makes (not one it coalesces onto). A method, not a class held in
        an attribute, so that the compiled engine builds its own jobs directly; the counting
        engine's carry the monitor's times in slots and are counted as they are made, without
        a frame around ``submit``."""
        return Job(handle, function, unique, data, priority, background, reducer, when)

    def _created(self, peer: Peer, job: Job) -> None:
        """Answer JOB_CREATED now, or once the job's row is committed."""
        waiting = self.committing.get(job)
        if waiting is None:
            self.send(peer, job_created(job.handle))
        else:
            waiting.append((peer, self._hold(peer)))

    def _enqueue(self, job: Job) -> None:
        """Make a new job runnable: queue it and wake workers, or schedule it for its epoch."""
        function = job.function
        if job.when and job.when > self.clock():
            function.scheduled += 1
            self.timers.call_at(job.when, self._release, job)
        else:
            function.queues[job.priority].append(job)
            self._wake(function)

    def journaled(self, jobs: Iterable[Job], error: str | None) -> None:
        """The queue writer committed these jobs' rows (``error`` is None) or could not."""
        if error is None:
            for job in jobs:
                created = job_created(job.handle)
                for peer, hold in self.committing.pop(job, ()):
                    self._resolve(peer, hold, created)
                if job.cancelled:  # while its row was being written
                    self._forget(job, CANCELLED)
                else:
                    self._enqueue(job)
            return
        log.error("persistent queue: %s", error)
        refused = encode(T.ERROR, b"QUEUE_ERROR", error.encode(errors="replace"))
        for job in jobs:
            for peer, hold in self.committing.pop(job, ()):
                self._resolve(peer, hold, refused)
            job.queue_id = 0
            self._forget(job, QUEUE_ERROR)

    def restore(self, row: StoredJob) -> bool:
        """Queue a job replayed from the persistent queue at startup; False when it coalesced
        onto a job restored before it (its row is then redundant)."""
        job = self._submit_stored(row)
        if job is None or job.queue_id:
            return False
        job.queue_id = row.id
        return True

    def _submit_stored(self, row: StoredJob) -> Job | None:
        """Submit a stored row's job as ``submit`` would a background one from no client, with
        no journal entry (its row exists). The priority is taken as one of the three: a table
        another program wrote may hold any number (gearmand's replay takes it unchecked)."""
        journal, self.journal = self.journal, None
        try:
            return self.submit(None, row.function, row.unique, row.data,
                               min(max(row.priority, HIGH), LOW), True, row.reducer, row.when)
        finally:
            self.journal = journal

    # -- a shared queue (core.sharing) ----------------------------------------------------------

    def share(self, sharing: Any, member: int, first_id: int) -> None:
        """Join a shared queue as ``member``: handles name it (``H:host/MEMBER:N``, unique
        across the servers) and journal operations go through ``sharing``."""
        self.shared = sharing
        self.journal = sharing.journal
        self._handle_prefix = self._handle_prefix[:-1] + b"/%d:" % member
        self.next_queue_id = first_id  # the row of handle number 1

    def hand_over(self, jobs: Iterable[tuple[Job, bytes]]) -> None:
        """These new jobs' rows are committed for any server to run (or coalesced onto a job
        already stored there): answer JOB_CREATED with the handle given, and drop them here."""
        for job, handle in jobs:
            created = job_created(handle)
            for peer, hold in self.committing.pop(job, ()):
                self._resolve(peer, hold, created)
            job.queue_id = 0  # the row stays
            if job.clients:
                # A foreground submit attached to it meanwhile: it runs here for that client
                # too (so perhaps twice: the row is anyone's).
                self._enqueue(job)
            else:
                self._forget(job, HANDED_OVER)

    def take_over(self, row: StoredJob, handle: bytes, attempts: int) -> None:
        """Queue a job claimed from a shared queue, under the handle it was given where it was
        submitted; ``attempts`` workers started it before (``-j`` counts them)."""
        retries = self.options.job_retries
        if retries and attempts >= retries:
            log.log(NOTICE, "Dropped job due to max retry count: %s %s",
                    handle.decode(errors="replace"), row.unique.decode(errors="replace"))
            self.journal((JOURNAL_DONE, row.id))  # type: ignore[misc]
            return
        count = self._handle_count
        try:
            job = self._submit_stored(row)
        finally:
            created, self._handle_count = self._handle_count != count, count
        if job is None:  # refused here (a maxqueue): another server may take it
            self.journal((JOURNAL_RELEASE, [row.id]))  # type: ignore[misc]
            return
        if not created:  # coalesced onto a job here
            if job in self.committing:
                # Its own row is being committed and will find the key taken: give this one
                # back, to be claimed again once that settles.
                self.journal((JOURNAL_RELEASE, [row.id]))  # type: ignore[misc]
            elif not job.queue_id:  # a foreground job: it keeps the row until it ends
                job.queue_id = row.id
            else:  # it has a committed row of its own: this one is redundant
                self.journal((JOURNAL_DONE, row.id))  # type: ignore[misc]
            return
        del self.jobs[job.handle]
        job.handle = handle
        self.jobs[handle] = job
        job.queue_id = row.id
        job.retries = min(attempts, MAX_RETRIES)
        self.shared.touch(job.function)

    def ask_store(self, peer: Peer, question: tuple[str, int],
                  answer: Callable[[Any], Reply]) -> None:
        """Answer ``peer`` once the shared store has answered ``question`` (``answer`` makes the
        reply of the store's answer, None if it could not be asked); replies sent to ``peer``
        meanwhile wait behind it."""
        hold = self._hold(peer)
        self.journal((JOURNAL_ASK, question,  # type: ignore[misc]
                      lambda result: self._resolve(peer, hold, answer(result))))

    def give_back(self) -> list[int]:
        """Drop every stored background job queued here that no worker has started, for the
        other servers to claim; their row ids (a graceful stop hands them over at once)."""
        ids = []
        for function in self.functions.values():
            for queue in function.queues:
                kept = [job for job in queue if not (job.background and job.queue_id)]
                if len(kept) == len(queue):
                    continue
                for job in queue:
                    if job.background and job.queue_id:
                        ids.append(job.queue_id)
                        job.queue_id = 0
                        self._forget(job, HANDED_OVER)
                queue.clear()
                queue.extend(kept)
        return ids

    def stored_jobs(self) -> list[StoredJob]:
        """Every background job still to run, for ``--store-queue-on-shutdown``."""
        return [StoredJob(n, job.unique, job.function.name, job.priority, job.data, job.when,
                          job.reducer)
                for n, job in enumerate((j for j in self.jobs.values()
                                         if j.background and not j.cancelled), start=1)]

    def _release(self, job: Job) -> None:
        """An epoch job's time has come: queue it and wake its workers."""
        function = job.function
        function.scheduled -= 1
        if job.cancelled:
            self._forget(job, CANCELLED)
            return
        function.queues[job.priority].append(job)
        self._wake(function)

    def cancel(self, handle: bytes) -> bool:
        """Admin ``cancel job``: fail the job to its clients and drop it; False if unknown."""
        job = self.jobs.get(handle)
        if job is None:
            return False
        if verbosity.debug:
            log.debug("Job %s cancelled", _text(handle))
        self._relay(job, encode(_WORK_FAIL, job.handle))
        job.cancelled = True
        self._drop_row(job)
        job.function.drop_unique(job)
        return True

    def _drop_row(self, job: Job) -> None:
        """Delete the job's row from the persistent queue, once."""
        if job.queue_id and self.journal is not None:
            self.journal((JOURNAL_DONE, job.queue_id))
        job.queue_id = 0

    def _get_status(self, peer: Peer, args: Args) -> None:
        handle = args[0]
        job = self.jobs.get(handle)
        if job is None:
            row = self.shared.row_id(handle) if self.shared is not None else None
            if row is not None:  # another server's job, perhaps: the store knows
                self.ask_store(peer, ("status", row), partial(_stored_status, handle))
                return
            self.send(peer, encode(T.STATUS_RES, handle, b"0", b"0", b"0", b"0"))
        else:
            numerator, denominator = job.progress
            self.send(peer, encode(T.STATUS_RES, handle, b"1", b"1" if job.worker else b"0",
                                   b"%d" % numerator, b"%d" % denominator))

    def find_unique(self, unique: bytes) -> Job | None:
        """The first job with this unique in any function (gearmand's lookup is not per
        function); jobs keyed by their data (unique ``-``) are not found this way."""
        for function in self.functions.values():
            job = function.uniques.get(unique)
            if job is not None:
                return job
        return None

    def _get_status_unique(self, peer: Peer, args: Args) -> None:
        unique = args[0]
        job = self.find_unique(unique) if unique and unique != b"-" else None
        if job is None:
            self.send(peer, encode(T.STATUS_RES_UNIQUE, unique, b"0", b"0", b"0", b"0", b"0"))
        else:
            numerator, denominator = job.progress
            self.send(peer, encode(T.STATUS_RES_UNIQUE, unique, b"1", b"1" if job.worker else b"0",
                                   b"%d" % numerator, b"%d" % denominator,
                                   b"%d" % len(job.clients)))

    def _echo(self, peer: Peer, args: Args) -> None:
        self.send(peer, encode(T.ECHO_RES, args[0]))

    def _set_client_id(self, peer: Peer, args: Args) -> None:
        peer.client_id = args[0][:MAX_CLIENT_ID]

    def _option_req(self, peer: Peer, args: Args) -> None:
        if args[0].lower() == b"exceptions":
            peer.exceptions = True
            self.send(peer, encode(T.OPTION_RES, args[0]))
        else:
            self._error(peer, errors.UNKNOWN_OPTION)

    # -- workers -------------------------------------------------------------------------------

    def _can_do(self, peer: Peer, args: Args, timeout: float = 0.0) -> None:
        function = self.function(args[0])
        if verbosity.info:
            log.info("Connection %d (%s) can do %s%s", peer.fd, peer.ip, _text(args[0]),
                     f" (timeout {timeout:g} s)" if timeout else "")
        peer.functions.insert(0, function)
        peer.abilities.append(function.add_worker(peer))
        if self.shared is not None:
            self.shared.touch(function)
        # The newest CAN_DO for a function decides its timeout, as gearmand reads the first entry.
        if timeout:
            peer.timeouts[function] = timeout
        else:
            peer.timeouts.pop(function, None)

    def _can_do_timeout(self, peer: Peer, args: Args) -> None:
        if len(args[1]) > MAX_TIMEOUT_FIELD:  # gearmand registers nothing either
            self._error(peer, errors.TIMEOUT_TOO_LARGE)
            return
        milliseconds = strtoll(args[1]).value
        if milliseconds in (INT64_MIN, INT64_MAX):  # gearmand's check, also without a reply
            self._error(peer, errors.TIMEOUT_TOO_LARGE)
            return
        # gearmand: 0 or negative means no timeout; 1..999 ms are raised to one second.
        seconds = 0.0 if milliseconds <= 0 else max(milliseconds, 1000) / 1000.0
        self._can_do(peer, args[:1], seconds)

    def _cant_do(self, peer: Peer, args: Args) -> None:
        function = self.functions.get(args[0])
        if function is not None and function in peer.functions:
            if verbosity.info:
                log.info("Connection %d (%s) can no longer do %s", peer.fd, peer.ip, _text(args[0]))
            self._drop_abilities(peer, function)

    def _reset_abilities(self, peer: Peer, args: Args) -> None:
        if verbosity.info:
            log.info("Connection %d (%s) reset its abilities", peer.fd, peer.ip)
        self._drop_abilities(peer, None)

    def _drop_abilities(self, peer: Peer, only: Function | None) -> None:
        """Remove ``peer``'s CAN_DOs (all, or those for ``only``) and requeue the jobs it holds
        for them, most recently assigned first."""
        kept = []
        for ability in peer.abilities:
            if only is None or ability.function is only:
                ability.function.remove_worker(ability)
                if self.shared is not None:
                    self.shared.touch(ability.function)
            else:
                kept.append(ability)
        peer.abilities = kept
        peer.functions = [f for f in peer.functions if only is not None and f is not only]
        if only is None:
            peer.timeouts.clear()
        else:
            peer.timeouts.pop(only, None)
        for job in reversed(peer.running[:]):
            if only is None or job.function is only:
                peer.running.remove(job)
                self._requeue(job)

    def _requeue(self, job: Job) -> None:
        """Put a job whose worker let go of it back at the tail of its queue (or drop it)."""
        function = job.function
        function.job_running -= 1
        self._release_worker(job)
        job.progress = NO_PROGRESS
        job.retries += 1
        retries = self.options.job_retries
        if retries and job.retries >= retries:
            log.log(NOTICE, "Dropped job due to max retry count: %s %s",
                    job.handle.decode(errors="replace"), job.unique.decode(errors="replace"))
            self._relay(job, encode(_WORK_FAIL, job.handle))
            self._forget(job, RETRIES)
            return
        if verbosity.debug:
            log.debug("Job %s requeued: its worker let go of it", _text(job.handle))
        function.queues[job.priority].append(job)
        self._wake(function)

    def _wake(self, function: Function) -> None:
        """NOOP sleeping workers of ``function`` that have no NOOP outstanding."""
        head = function.worker_head
        if head is None or not self.sleepers:
            return
        limit = self.options.worker_wakeup or function.worker_count
        woken = 0
        entry = head
        while True:
            worker = entry.worker
            entry = entry.next
            if worker.sleeping and not worker.noop_sent:
                worker.noop_sent = True
                self.sleepers.discard(worker)
                self.send(worker, NOOP)
                woken += 1
                if woken == limit:
                    break
            if entry is head:
                break
        # The next walk starts after the last entry looked at (a full circle leaves it).
        function.worker_head = entry

    def _pre_sleep(self, peer: Peer, args: Args) -> None:
        if self._take(peer, peek=True) is not None:
            if not peer.noop_sent:
                peer.noop_sent = True
                self.sleepers.discard(peer)
                self.send(peer, NOOP)
        else:
            peer.sleeping = True
            if not peer.noop_sent:
                self.sleepers.add(peer)
            if self.shared is not None:  # idle: what its functions want may have grown
                for function in peer.functions:
                    self.shared.touch(function)

    def _take(self, peer: Peer, peek: bool = False) -> Job | None:
        """The next job for this worker: highest priority first across all its functions."""
        functions = peer.functions
        for priority in PRIORITIES:
            for function in functions:
                queue = function.queues[priority]
                while queue:
                    job = queue[0]
                    if job.cancelled or job.abandoned:
                        queue.popleft()
                        if verbosity.debug:
                            log.debug("Job %s dropped: %s", _text(job.handle),
                                      "cancelled" if job.cancelled else "no client waits for it")
                        self._forget(job, CANCELLED if job.cancelled else ABANDONED)
                        continue
                    if peek:
                        return job
                    queue.popleft()
                    if self.options.round_robin:
                        functions.remove(function)
                        functions.append(function)
                    return job
        return None

    def _grab(self, peer: Peer) -> Job | None:
        if peer.sleeping:
            peer.sleeping = False
            self.sleepers.discard(peer)
        peer.noop_sent = False
        job = self._take(peer)
        if job is None:
            self.send(peer, NO_JOB)
            return None
        job.worker = peer
        if verbosity.debug:
            log.debug("Job %s assigned to connection %d (%s)", _text(job.handle), peer.fd, peer.ip)
        job.function.job_running += 1
        peer.running.append(job)
        if job.queue_id and self.shared is not None:
            self.shared.started(job)
        timeout = peer.timeouts.get(job.function) if peer.timeouts else None
        if timeout:
            self._deadlines[job] = self.timers.call_at(self.clock() + timeout,
                                                       self._worker_timeout, job)
        return job

    def _release_worker(self, job: Job) -> None:
        """The job's worker let go of it: cancel its CAN_DO_TIMEOUT, which holds the job."""
        job.worker = None
        if self._deadlines:
            timer = self._deadlines.pop(job, None)
            if timer is not None:
                self.timers.cancel(timer)

    def _worker_timeout(self, job: Job) -> None:
        """CAN_DO_TIMEOUT expired while the worker still holds the job: fail it."""
        del self._deadlines[job]
        log.warning("Worker timeout reached on job, failing: %s",
                    job.handle.decode(errors="replace"))
        self._relay(job, encode(_WORK_FAIL, job.handle))
        self._finish(job, TIMEOUT)

    def _grab_job(self, peer: Peer, args: Args) -> None:
        job = self._grab(peer)
        if job is not None:
            self.send(peer, encode(_JOB_ASSIGN, job.handle, job.function.name, job.data))

    def _grab_job_uniq(self, peer: Peer, args: Args) -> None:
        job = self._grab(peer)
        if job is not None:
            self.send(peer, encode(_JOB_ASSIGN_UNIQ, job.handle, job.function.name, job.unique,
                                   job.data))

    def _grab_job_all(self, peer: Peer, args: Args) -> None:
        job = self._grab(peer)
        if job is None:
            return
        if job.reducer:
            self.send(peer, encode(_JOB_ASSIGN_ALL, job.handle, job.function.name, job.unique,
                                   job.reducer, job.data))
        else:
            self.send(peer, encode(_JOB_ASSIGN_UNIQ, job.handle, job.function.name, job.unique,
                                   job.data))

    def _owned(self, peer: Peer, handle: bytes, reply: errors.ErrorReply) -> Job | None:
        """The job ``handle`` names if this worker holds it; otherwise answer JOB_NOT_FOUND."""
        job = self.jobs.get(handle)
        if job is None and b"\0" in handle:  # WORK_FAIL's handle is the rest of the packet
            job = self.jobs.get(handle.partition(b"\0")[0])
        if job is None or job.worker is not peer:
            self._error(peer, reply)
            return None
        return job

    def _relay(self, job: Job, packet: Reply, producer: Peer | None = None) -> None:
        """Send ``packet`` to the job's clients; a producer (the worker that sent it) that feeds
        a stalled client waits for it to drain."""
        for client in job.clients:
            self.send(client, packet)
            if client.stalled and producer is not None:
                self._block(producer, client)

    def _work_data(self, ptype: int, peer: Peer, args: Args) -> None:
        job = self._owned(peer, args[0], _NOT_FOUND_DATA)
        if job is not None and job.clients:
            self._relay(job, encode_fields(ptype, args), peer)

    def _work_status(self, peer: Peer, args: Args) -> None:
        if len(args) < 3:  # Perl's HANDLE\0NUMERATOR: gearmand ignores it, so do we
            return
        job = self._owned(peer, args[0], _NOT_FOUND_RESULT)
        if job is not None:
            job.progress = (atou32(args[1]), atou32(args[2]))
            if job.clients:
                self._relay(job, encode_fields(_WORK_STATUS, args), peer)

    def _work_complete(self, peer: Peer, args: Args) -> None:
        job = self._owned(peer, args[0], _NOT_FOUND_RESULT)
        if job is not None:
            if verbosity.debug:
                log.debug("Job %s completed", _text(job.handle))
            self._relay(job, encode_fields(_WORK_COMPLETE, args), peer)
            self._finish(job, COMPLETED)

    def _work_fail(self, peer: Peer, args: Args) -> None:
        job = self._owned(peer, args[0], _NOT_FOUND_RESULT)
        if job is not None:
            if verbosity.debug:
                log.debug("Job %s failed", _text(job.handle))
            self._relay(job, encode(_WORK_FAIL, args[0]), peer)
            self._finish(job, FAIL)

    def _work_exception(self, peer: Peer, args: Args) -> None:
        job = self._owned(peer, args[0], _NOT_FOUND_EXCEPTION)
        if job is None:
            return
        if verbosity.debug:
            log.debug("Job %s failed with an exception", _text(job.handle))
        exception: Reply = b""
        fail: Reply = b""
        for client in job.clients:
            if client.exceptions:
                exception = exception or encode_fields(_WORK_EXCEPTION, args)
                self.send(client, exception)
            else:
                # gearmand's quirk, kept for byte compatibility: the handle ends with a NUL.
                fail = fail or encode(_WORK_FAIL, args[0] + b"\0")
                self.send(client, fail)
            if client.stalled:
                self._block(peer, client)
        self._finish(job, EXCEPTION)

    def _finish(self, job: Job, reason: str) -> None:
        """A running job ended (complete, fail, exception, timeout): release its worker and
        forget it."""
        worker = job.worker
        if worker is not None:
            worker.running.remove(job)
            job.function.job_running -= 1
            self._release_worker(job)
            if job.queue_id and self.shared is not None:
                # The worker's next job waits until this row is gone: were the server to die
                # first, only the job its worker did last would run again elsewhere.
                hold = self._hold(worker)
                self.journal((JOURNAL_DONE, job.queue_id,  # type: ignore[misc]
                              partial(self._resolve, worker, hold, b"")))
                job.queue_id = 0
        self._forget(job, reason)

    def _forget(self, job: Job, reason: str) -> None:
        """Remove a job that is in no queue and has no worker from every table; it ends for
        ``reason`` (one of ``model.REASONS``), which only the monitor's counting reads."""
        function = job.function
        del self.jobs[job.handle]
        if job.queue_id:
            self._drop_row(job)
        if job.unique:
            function.drop_unique(job)
        function.job_total -= 1
        for client in job.clients:
            client.client_jobs.pop(job, None)
        job.clients = ()
