"""A hypothesis state machine drives the Engine the way the processor does, with hostile peers.

Several peers connect and disconnect, send packets of every type with generated fields (extreme
numbers, huge and empty fields, handles of live jobs), admin lines with random tokens, bytes cut
at random points; a fake clock moves so epoch jobs and CAN_DO_TIMEOUTs fire, and after every step
the processor's tick arithmetic runs. After every step:

- no exception escapes and each reply is a well-formed response packet of a type the protocol
  allows for the request that caused it;
- the tables agree with each other: every queued job in exactly one queue of its function, every
  running job held by a live worker whose ``running`` lists it, ``job_total``/``job_running``
  and the admin ``status`` equal what the tables hold, no job refers to a gone peer, and
  ``sleepers`` holds only sleeping live workers.

With the monitor's counting engine, the rows the monitor copies of only what changed since its
last copy, applied to what it has, make the same ``/metrics`` as a copy of every row.

At the end no job that ended is still kept alive (by a CAN_DO_TIMEOUT timer, say), and none is
once every timer has fired. With a persistent queue, replies held for a commit come out in the
order of the requests.
"""

from __future__ import annotations

import gc
import types
from collections import Counter, defaultdict

import pytest
from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from gearmand_py.core import snapshot
from gearmand_py.core.engine import JOURNAL_ADD, Engine
from gearmand_py.core.model import PRIORITIES, Ability, Function, Job, coalescing_key
from gearmand_py.core.stats import CountingEngine
from gearmand_py.protocol.packets import REQUEST_TYPES
from gearmand_py.protocol.packets import PacketType as T
from gearmand_py.server.exposition import Exposition
from gearmand_py.server.processor import MAX_WAIT
from tests.core.harness import World, parse_responses
from tests.support.fuzzing import HUGE_NUMBERS, PACKET_TYPES, packet
from tests.support.strategies import CLOCK_START, admin_lines, chunked, fields

_SUBMITS = {T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_HIGH_BG,
            T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_LOW_BG, T.SUBMIT_JOB_EPOCH, T.SUBMIT_REDUCE_JOB,
            T.SUBMIT_REDUCE_JOB_BACKGROUND}
#: What a request may be answered with directly (at most one packet of these). Any request may
#: get ERROR: a packet with too few fields is rejected before its type matters.
DIRECT: dict[int, set[str]] = {ptype: {"ERROR"} for ptype in T if ptype}
DIRECT.update({ptype: {"JOB_CREATED", "ERROR"} for ptype in _SUBMITS})
DIRECT.update({
    T.PRE_SLEEP: {"NOOP", "ERROR"}, T.GRAB_JOB: {"NO_JOB", "JOB_ASSIGN", "ERROR"},
    T.GRAB_JOB_UNIQ: {"NO_JOB", "JOB_ASSIGN_UNIQ", "ERROR"},
    T.GRAB_JOB_ALL: {"NO_JOB", "JOB_ASSIGN_UNIQ", "JOB_ASSIGN_ALL", "ERROR"},
    T.GET_STATUS: {"STATUS_RES", "ERROR"}, T.GET_STATUS_UNIQUE: {"STATUS_RES_UNIQUE", "ERROR"},
    T.ECHO_REQ: {"ECHO_RES", "ERROR"}, T.OPTION_REQ: {"OPTION_RES", "ERROR"},
})
#: Requests that are always answered.
ANSWERED = {T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GET_STATUS, T.GET_STATUS_UNIQUE, T.ECHO_REQ,
            T.OPTION_REQ, *_SUBMITS, *(t for t in T if t and t not in REQUEST_TYPES)}
#: What any request may also cause on its own connection: a wake-up (it submitted or requeued a
#: job it can do), or results relayed to it as a client of a job (its own, or one it failed).
SIDE_EFFECTS = {"NOOP", "WORK_DATA", "WORK_WARNING", "WORK_STATUS", "WORK_COMPLETE", "WORK_FAIL",
                "WORK_EXCEPTION"}
#: The unread bytes past which the model's server stalls a peer: the server's HIGH_WATER scaled
#: down so a few replies reach it (the core does not care where the mark is).
STALL_MARK = 256
#: Clock moves: nothing, under and over the CAN_DO_TIMEOUT floor (1 s), an hour, past any epoch.
CLOCK_STEPS = st.sampled_from((0.0, 0.5, 1.0, 1.001, 5.0, 61.0, 3600.0, 10.0 ** 6))


def _one_line_reply(text: bytes) -> bool:
    """``OK``/``ERR ...``, which end in CRLF; a listing's rows (a function may be named
    ``ERR x``) end in a bare LF."""
    line = text.split(b"\n", 1)[0]
    return text.startswith((b"OK\r\n", b"ERR ")) and line.endswith(b"\r")


def _is_admin_reply(text: bytes) -> bool:
    """One complete admin reply: ``OK``/``OK value``/``ERR ...`` or a listing ending ``.\\n``."""
    if _one_line_reply(text):
        return text.endswith(b"\r\n") and text.count(b"\n") == 1
    if text.startswith(b"OK "):
        return text.endswith(b"\n") and text.count(b"\n") == 1
    return text.endswith(b".\n")


def worker_ring(function: Function) -> list[Ability]:
    """The entries of a function's circular worker list, from its head."""
    entries: list[Ability] = []
    entry = function.worker_head
    while entry is not None:
        entries.append(entry)
        entry = entry.next
        if entry is function.worker_head:
            break
        assert len(entries) < 10_000, "the worker ring does not close"
    return entries


class Awaited:
    """One peer's requests held for late replies, oldest first, each with the reply types that
    may answer it and whether it may go unanswered. A reply can fit several of them (a CAN_DO
    gets ERROR only when malformed, the SUBMIT_JOB_SCHED after it always does), so this keeps
    every position the replies so far can have reached rather than guessing one."""

    def __init__(self) -> None:
        self.entries: list[tuple[set[str], bool]] = []
        self.positions = {0}  # how many entries the replies so far may have answered or skipped

    def __bool__(self) -> bool:
        """Whether some request may still be waiting for its reply."""
        return any(at < len(self.entries) for at in self.positions)

    def __repr__(self) -> str:
        return f"Awaited({self.entries}, at {sorted(self.positions)})"

    def append(self, allowed: set[str], optional: bool) -> None:
        self.entries.append((allowed, optional))

    def answer(self, reply_type: str) -> bool:
        """Take one late reply; False when no waiting request can have caused it."""
        reached = set()
        for at in self.positions:
            for index in range(at, len(self.entries)):
                allowed, optional = self.entries[index]
                if reply_type in allowed:
                    reached.add(index + 1)
                if not optional:
                    break
        if not reached:
            return False
        answered = min(reached)  # entries every reachable position is past are done with
        del self.entries[:answered]
        self.positions = {at - answered for at in reached}
        return True

    def may_be_done(self) -> bool:
        """Whether every request left may go unanswered, at some reachable position."""
        return any(all(optional for _, optional in self.entries[at:]) for at in self.positions)

    def clear(self) -> None:
        self.entries.clear()
        self.positions = {0}


def split_admin_replies(reply: tuple) -> list[tuple]:
    """parse_responses joins admin replies that arrive together into one TEXT; split them."""
    if reply[0] != "TEXT":
        return [reply]
    text, out = reply[1], []
    while text:
        if text.startswith(b"OK\r\n"):
            end = 4
        elif _one_line_reply(text) or text.startswith(b"OK "):
            end = text.index(b"\n") + 1
        else:  # a listing, up to its ".\n" line
            end = text.index(b".\n") + 2 if text.startswith(b".\n") else text.index(b"\n.\n") + 3
        out.append(("TEXT", text[:end]))
        text = text[end:]
    return out


class EngineMachine(RuleBasedStateMachine):
    """Peers named p0, p1, ... (never reused) and one quiet admin connection for ``status``."""

    engine_class: type[Engine] = Engine

    @initialize(round_robin=st.booleans(), retries=st.sampled_from((0, 0, 2)),
                wakeup=st.sampled_from((0, 1)), exceptions=st.booleans(), durable=st.booleans())
    def start(self, round_robin: bool, retries: int, wakeup: int, exceptions: bool,
              durable: bool = False) -> None:
        self.now = CLOCK_START
        self.world = World(clock=lambda: self.now, max_packet_size=1 << 20,
                           round_robin=round_robin, job_retries=retries, worker_wakeup=wakeup,
                           exceptions=exceptions, engine_class=self.engine_class)
        #: With the counting engine: the monitor's lines, kept from one partial copy to the next.
        self.exposition = Exposition()
        #: With a persistent queue: the journal operations the "queue writer" has not committed.
        self.journal: list[tuple] = []
        #: Per peer: the held requests still to be answered, oldest first (allowed reply types,
        #: and whether the request may go unanswered).
        self.awaiting: defaultdict[str, Awaited] = defaultdict(Awaited)
        #: Peers that stopped reading: what they were sent stays unread (the server's unsent
        #: output) until ``read``.
        self.slow: set[str] = set()
        #: Per slow peer: how much of what it was sent the checks have looked at.
        self.unread: defaultdict[str, int] = defaultdict(int)
        if durable:
            self.world.engine.journal = self.journal.append
        self.world.connect("admin")
        self.count = 0
        for _ in range(3):
            self.connect()

    # -- helpers -------------------------------------------------------------------------------

    @property
    def live(self) -> list[str]:
        w = self.world
        return [n for n in w.peers if n != "admin" and n not in w.closed]

    def handles(self) -> list[bytes]:
        return list(self.world.engine.jobs)[-8:]

    def tick(self) -> None:
        """What Processor.tick does after a turn: due timers, flush, the wait until the next."""
        engine = self.world.engine
        if engine.timers:
            engine.timers.run_due(engine.clock())
        self.world.flush()
        deadline = engine.timers.next_deadline()
        if deadline is not None:
            wait = min(max(deadline - engine.clock(), 0.0), MAX_WAIT)
            assert 0.0 <= wait <= MAX_WAIT

    def replies(self, name: str) -> list[tuple]:
        """What ``name`` got since the last look (parse_responses rejects malformed packets);
        nothing for a peer that does not read, which the server stalls past HIGH_WATER."""
        received = self.world.received[name]
        if name not in self.slow:
            return self.world.recv(name)
        # Check what it was sent like anyone's, but leave it unread: the server's unsent output.
        new = bytes(received[self.unread[name]:])
        self.unread[name] = len(received)
        peer = self.world.peers[name]
        if len(received) > STALL_MARK and not peer.gone:
            peer.stalled = True
        return parse_responses(new)

    def waits(self, name: str) -> bool:
        """Whether ``name``'s replies may come later than its request: held behind a commit,
        parked behind a stalled peer, or not read."""
        peer = self.world.peers[name]
        return peer.backlog is not None or peer.parked is not None or bool(self.awaiting[name])

    def check_replies(self, name: str, ptype: int | None) -> None:
        """``name`` sent one request of ``ptype`` (None: an admin line) and got its answer."""
        got = self.replies(name)
        closed = name in self.world.closed
        # A reply queued behind a JOB_CREATED that waits for its commit comes with the commit;
        # one parked behind a stalled peer comes when it drains or leaves.
        held = self.waits(name) and not closed
        assert sum(r[0] == "NOOP" for r in got) <= 1, got  # one NOOP until the next grab
        if held:
            for reply in got:  # what was released meanwhile answers earlier requests
                self.match_awaited(name, reply)
            answered = ptype is None or ptype in ANSWERED
            self.awaiting[name].append({"TEXT"} if ptype is None else DIRECT[ptype] - {"NOOP"},
                                       not answered)
            return
        if ptype is None:
            texts = [r for r in got if r[0] == "TEXT"]
            assert all(r[0] in SIDE_EFFECTS for r in got if r[0] != "TEXT"), got
            assert len(texts) == (0 if closed else 1), got
            assert all(_is_admin_reply(t[1]) for t in texts), got
            return
        allowed = DIRECT[ptype]
        assert all(r[0] in allowed or r[0] in SIDE_EFFECTS for r in got), (T(ptype).name, got)
        direct = [r for r in got if r[0] in allowed and r[0] != "NOOP"]
        assert len(direct) <= 1, (T(ptype).name, got)
        if ptype in ANSWERED and not closed:
            assert len(direct) == 1, (T(ptype).name, got)

    def check_released(self, name: str) -> None:
        """Replies released by a commit answer the held requests in the order they were sent
        (an entry marked optional is for a request that may get no reply)."""
        awaiting = self.awaiting[name]
        peer = self.world.peers[name]
        for reply in self.replies(name):
            self.match_awaited(name, reply)
        if peer.gone:  # closed (a parked line it sent was fatal): the rest go unanswered
            awaiting.clear()
            return
        if peer.backlog is None and peer.parked is None:
            assert awaiting.may_be_done(), (name, awaiting)
            awaiting.clear()

    def match_awaited(self, name: str, got: tuple) -> None:
        """A reply that came late must answer a request still waiting for one: the oldest, or a
        later one when those before it may go unanswered."""
        awaiting = self.awaiting[name]
        for reply in split_admin_replies(got):
            if reply[0] in SIDE_EFFECTS:
                continue
            assert awaiting.answer(reply[0]), (name, reply, awaiting)
            if reply[0] == "TEXT":
                assert _is_admin_reply(reply[1]), reply

    def drain_others(self, sender: str | None) -> None:
        """Everyone else may only have been woken or sent results, or get the late replies of
        its own waiting requests, never another reply."""
        for name in self.world.peers:
            if name != sender:
                if self.awaiting[name]:
                    self.check_released(name)
                    continue
                got = self.replies(name)
                assert all(r[0] in SIDE_EFFECTS for r in got), (name, got)

    # -- rules ---------------------------------------------------------------------------------

    @precondition(lambda self: len(self.live) < 6)
    @rule()
    def connect(self) -> None:
        self.world.connect(f"p{self.count}")
        self.count += 1

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.live))
        self.world.disconnect(name)
        if name in self.slow:  # what it never read is gone with it
            self.slow.discard(name)
            self.world.received[name].clear()
        self.tick()
        self.drain_others(None)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), ptype=st.sampled_from(PACKET_TYPES), split=st.booleans())
    def request(self, data: st.DataObject, ptype: int, split: bool) -> None:
        """One packet of any type with generated fields, maybe cut into pieces."""
        name = data.draw(st.sampled_from(self.live))
        wire = packet(ptype, data.draw(fields(ptype, self.handles())))
        # A function name starting with NUL (CAN_DO takes the rest of the packet) would start a
        # listing line of ``status`` with one, which no client can tell from a packet.
        assume(not (ptype == T.CAN_DO and wire[12:13] == b"\0"))
        for piece in data.draw(chunked(wire)) if split else [wire]:
            self.world.raw(name, piece)
        self.tick()
        self.check_replies(name, ptype)
        self.drain_others(name)

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def admin(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.live))
        self.world.admin_line(name, data.draw(admin_lines(self.handles())))
        self.tick()
        self.check_replies(name, None)
        self.drain_others(name)

    @precondition(lambda self: any(p.running for p in self.world.engine.peers.values()))
    @rule(data=st.data(), result=st.sampled_from((T.WORK_COMPLETE, T.WORK_FAIL,
                                                  T.WORK_EXCEPTION, T.WORK_DATA)))
    def finish(self, data: st.DataObject, result: int) -> None:
        """A worker answers one of its own jobs (random packets rarely hit a handle it holds)."""
        w = self.world
        holders = [n for n in self.live if w.peers[n].running]
        if not holders:
            return
        name = data.draw(st.sampled_from(holders))
        job = data.draw(st.sampled_from(w.peers[name].running))
        payload = data.draw(st.sampled_from((b"r", b"x" * 300)))
        w.send(name, result, *((job.handle,) if result == T.WORK_FAIL else (job.handle, payload)))
        self.tick()
        self.check_replies(name, result)
        self.drain_others(name)

    @precondition(lambda self: self.live)
    @rule(data=st.data(), ptype=st.sampled_from((T.CAN_DO, T.CAN_DO_TIMEOUT, T.GRAB_JOB_ALL,
                                                 T.PRE_SLEEP, T.SUBMIT_JOB, T.SUBMIT_JOB_BG,
                                                 T.ECHO_REQ)))
    def plain(self, data: st.DataObject, ptype: int) -> None:
        """Ordinary traffic on the functions the fuzzed packets use most, so jobs get run."""
        name = data.draw(st.sampled_from(self.live))
        args = {T.CAN_DO: (b"f",), T.CAN_DO_TIMEOUT: (b"f", b"1500"), T.GRAB_JOB_ALL: (),
                T.PRE_SLEEP: (), T.SUBMIT_JOB: (b"f", b"", b"x"),
                T.SUBMIT_JOB_BG: (b"f", data.draw(st.sampled_from((b"", b"u1"))), b"y"),
                T.ECHO_REQ: (b"e" * 300,)}[ptype]
        self.world.send(name, ptype, *args)
        self.tick()
        self.check_replies(name, ptype)
        self.drain_others(name)

    @precondition(lambda self: set(self.live) - self.slow)
    @rule(data=st.data())
    def stop_reading(self, data: st.DataObject) -> None:
        self.slow.add(data.draw(st.sampled_from(sorted(set(self.live) - self.slow))))

    @precondition(lambda self: self.slow & set(self.live))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """A peer that stopped reading reads everything: the server reports it drained."""
        name = data.draw(st.sampled_from(sorted(self.slow & set(self.live))))
        self.slow.discard(name)
        self.world.received[name].clear()
        self.unread.pop(name, None)
        peer = self.world.peers[name]
        if peer.stalled:
            self.world.engine.drained(peer)
        self.tick()
        self.drain_others(None)

    @precondition(lambda self: any(op[0] == JOURNAL_ADD for op in self.journal))
    @rule(data=st.data(), error=st.sampled_from((None, None, "disk full")))
    def commit(self, data: st.DataObject, error: str | None) -> None:
        """The queue writer commits (or fails) the oldest pending rows; the replies held for
        them, and whatever queued behind them, go out."""
        adds = [op for op in self.journal if op[0] == JOURNAL_ADD]
        batch = adds[:data.draw(st.integers(1, len(adds)))]
        self.journal[:] = [op for op in self.journal if op not in batch]
        self.world.engine.journaled([job for _op, job, _row in batch], error)
        self.tick()
        for name in self.world.peers:
            self.check_released(name)

    @rule(step=CLOCK_STEPS)
    def advance_clock(self, step: float) -> None:
        self.now += step
        self.tick()
        self.drain_others(None)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def tables_are_consistent(self) -> None:
        engine = self.world.engine
        live = set(map(id, engine.peers.values()))
        queued: Counter[int] = Counter()
        for function in engine.functions.values():
            for priority in PRIORITIES:
                for job in function.queues[priority]:
                    queued[id(job)] += 1
                    assert job.function is function and job.priority == priority
                    assert job.worker is None and engine.jobs.get(job.handle) is job
            entries = worker_ring(function)
            assert function.worker_count == len(entries)
            for entry in entries:
                assert entry.function is function and entry.next.prev is entry
                assert entry in entry.worker.abilities and id(entry.worker) in live
            assert Counter(id(e.worker) for e in entries) == Counter(
                id(p) for p in engine.peers.values() for f in p.functions if f is function)
        assert all(n == 1 for n in queued.values()), "a job is queued twice"
        totals: Counter[bytes] = Counter()
        running: Counter[bytes] = Counter()
        scheduled: Counter[bytes] = Counter()
        for handle, job in engine.jobs.items():
            assert job.handle == handle
            name = job.function.name
            assert engine.functions.get(name) is job.function
            totals[name] += 1
            if job in engine.committing:  # its row is being committed: nowhere else yet
                assert id(job) not in queued and job.worker is None and job.queue_id
            elif job.worker is not None:
                running[name] += 1
                assert id(job.worker) in live and not job.worker.gone
                assert job.worker.running.count(job) == 1
                assert id(job) not in queued
            elif id(job) not in queued:
                scheduled[name] += 1  # an epoch job waiting for its time
            for client in job.clients:
                assert id(client) in live and job in client.client_jobs
        for peer in engine.peers.values():
            assert not peer.gone
            for job in peer.running:
                assert job.worker is peer
            for job in peer.client_jobs:
                assert engine.jobs.get(job.handle) is job and peer in job.clients
        for function in engine.functions.values():
            name = function.name
            assert function.job_total == totals[name]
            assert function.job_running == running[name]
            assert function.scheduled == scheduled[name]
            for key, job in function.uniques.items():
                assert engine.jobs.get(job.handle) is job
                assert coalescing_key(job.unique, job.data) == key
        for sleeper in engine.sleepers:
            assert id(sleeper) in live and sleeper.sleeping and not sleeper.noop_sent
        for job in engine.committing:  # none is left behind once its row settles
            assert engine.jobs.get(job.handle) is job

    @invariant()
    def admin_status_counts_the_tables(self) -> None:
        engine = self.world.engine
        rows = []
        for function in engine.functions.values():
            jobs = [j for j in engine.jobs.values() if j.function is function]
            rows.append(b"%s\t%d\t%d\t%d\n" % (
                function.name, len(jobs), sum(j.worker is not None for j in jobs),
                sum(f is function for p in engine.peers.values() for f in p.functions)))
        assert self.world.admin("admin", b"status") == b"".join(rows) + b".\n"

    @invariant()
    def changed_rows_add_up_to_every_row(self) -> None:
        engine = self.world.engine
        if not isinstance(engine, CountingEngine):
            return
        partial = "".join(self.exposition.families(snapshot.take_all(engine, complete=False)))
        assert partial == "".join(Exposition().families(snapshot.take_all(engine)))

    def teardown(self) -> None:
        """No job that ended is kept alive, neither now nor once every timer has fired."""
        if not hasattr(self, "world"):
            return
        self.check_no_finished_job_is_kept()
        self.world.engine.journaled([op[1] for op in self.journal if op[0] == JOURNAL_ADD], None)
        self.now += 10.0 ** 9
        self.tick()
        self.check_no_finished_job_is_kept()

    def check_no_finished_job_is_kept(self) -> None:
        engine = self.world.engine
        kept = {id(job) for job in engine.jobs.values()}
        assert {id(job) for job in reachable_jobs(engine)} == kept


def reachable_jobs(root: object) -> list[Job]:
    """Every Job the object graph under ``root`` keeps alive (code, classes and modules are not
    followed: they lead everywhere and hold no job of this engine)."""
    seen = {id(root)}
    stack = [root]
    jobs = []
    while stack:
        obj = stack.pop()
        if isinstance(obj, Job):
            jobs.append(obj)
        for ref in gc.get_referents(obj):
            if id(ref) not in seen and not isinstance(ref, _OPAQUE):
                seen.add(id(ref))
                stack.append(ref)
    return jobs


_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType,
           bytes, str, int, float)


TestEngine = EngineMachine.TestCase
TestEngine.settings = settings(max_examples=400, stateful_step_count=50)


class CountingEngineMachine(EngineMachine):
    """The same, with the monitor's counting engine."""

    engine_class = CountingEngine


TestCountingEngine = CountingEngineMachine.TestCase
TestCountingEngine.settings = settings(max_examples=200, stateful_step_count=50)


def _huge_cases() -> list:
    return [pytest.param(what, number, id=f"{what}-{number[:3].decode().strip()}x{len(number)}")
            for number in HUGE_NUMBERS
            for what in ("SUBMIT_JOB_EPOCH", "WORK_STATUS", "CAN_DO_TIMEOUT", "maxqueue")]


@pytest.mark.parametrize("what,number", _huge_cases())
def test_a_huge_number_in_any_numeric_field_is_survived(what: str, number: bytes) -> None:
    """The peer gets an allowed answer (or none) and stays connected; a tick still works."""
    machine = EngineMachine()
    machine.start(round_robin=False, retries=0, wakeup=0, exceptions=False, durable=False)
    w = machine.world
    w.send("p0", T.CAN_DO, b"f")
    handle = w.submit("p1", b"f")
    assert w.grab("p0")[0] == "JOB_ASSIGN"
    if what == "SUBMIT_JOB_EPOCH":
        w.send("p2", T.SUBMIT_JOB_EPOCH, b"f", b"", number, b"d")
        ptype, sender = T.SUBMIT_JOB_EPOCH, "p2"
    elif what == "WORK_STATUS":
        w.send("p0", T.WORK_STATUS, handle, number, number)
        ptype, sender = T.WORK_STATUS, "p0"
    elif what == "CAN_DO_TIMEOUT":
        w.send("p2", T.CAN_DO_TIMEOUT, b"g", number)
        ptype, sender = T.CAN_DO_TIMEOUT, "p2"
    else:
        w.admin_line("p2", b"maxqueue f " + number.strip())
        ptype, sender = None, "p2"
    machine.tick()
    machine.check_replies(sender, ptype)
    assert sender not in w.closed
    machine.drain_others(sender)
    machine.tables_are_consistent()
    machine.admin_status_counts_the_tables()
    machine.advance_clock(10.0 ** 6)
    machine.tables_are_consistent()


def test_a_finished_job_is_not_kept_by_its_can_do_timeout() -> None:
    machine = EngineMachine()
    machine.start(round_robin=False, retries=0, wakeup=0, exceptions=False, durable=False)
    w = machine.world
    w.send("p0", T.CAN_DO_TIMEOUT, b"f", b"3600000")
    for _ in range(3):
        handle = w.submit("p1", b"f", data=b"x" * 1024)
        assert w.grab("p0")[0] == "JOB_ASSIGN"
        w.send("p0", T.WORK_COMPLETE, handle, b"done")
        assert w.recv("p1") == [("WORK_COMPLETE", handle, b"done")]
    machine.check_no_finished_job_is_kept()


def test_a_held_error_answers_its_own_request_not_an_earlier_unanswered_one() -> None:
    """Behind a commit, a CAN_DO (which gets ERROR only when malformed) and a SUBMIT_JOB_SCHED
    (always ERROR) wait; the ERROR released with the commit is the second one's."""
    machine = EngineMachine()
    machine.start(round_robin=False, retries=0, wakeup=0, exceptions=False, durable=True)
    w = machine.world
    w.send("p1", T.SUBMIT_JOB_BG, b"f", b"", b"y")
    machine.tick()
    machine.check_replies("p1", T.SUBMIT_JOB_BG)
    w.send("p1", T.CAN_DO, b"f")
    machine.tick()
    machine.check_replies("p1", T.CAN_DO)
    w.raw("p1", packet(T.SUBMIT_JOB_SCHED, [b""] * 8))
    machine.tick()
    machine.check_replies("p1", T.SUBMIT_JOB_SCHED)
    w.admin_line("p1", b"workers")
    machine.tick()
    machine.check_replies("p1", None)
    w.engine.journaled([op[1] for op in machine.journal if op[0] == JOURNAL_ADD], None)
    machine.journal.clear()
    machine.tick()
    machine.check_released("p1")
    assert not machine.awaiting["p1"]
