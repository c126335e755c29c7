"""The processing thread's turns: however fast batches keep arriving, a turn ends and flushes;
it tells an I/O loop that stopped reading ahead of it when it has caught up; and the times the
monitor shows are those of the batches and timers it runs."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable, Iterator

import pytest

from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.core.stats import BUCKETS, CountingEngine
from gearmand_py.protocol.packets import PacketType
from gearmand_py.server.batches import CONNECTED, EVENTS
from gearmand_py.server.connection import Connection
from gearmand_py.server.frontend import FrontEnd
from gearmand_py.server.io_loop import MAX_READS_AHEAD, RECHECK, IOLoop
from gearmand_py.server.processor import MAX_TURN_BATCHES, Processor

ECHO_REQ = int(PacketType.ECHO_REQ)
CAN_DO, CAN_DO_TIMEOUT = int(PacketType.CAN_DO), int(PacketType.CAN_DO_TIMEOUT)
SUBMIT_JOB, GRAB_JOB = int(PacketType.SUBMIT_JOB), int(PacketType.GRAB_JOB)
WORK_COMPLETE = int(PacketType.WORK_COMPLETE)


def test_a_turn_runs_at_most_max_turn_batches_before_flushing() -> None:
    left_after_turn: list[int] = []
    processor = Processor(Engine(EngineOptions(job_handle_prefix=b"H:test")),
                          after_turn=lambda: left_after_turn.append(len(processor.mailbox.items)))
    batches = 2 * MAX_TURN_BATCHES + MAX_TURN_BATCHES // 2
    for _ in range(batches):
        processor.submit([])
    processor.stop()
    processor.run()  # returns once it reaches the stop request
    # Each turn ends after MAX_TURN_BATCHES (the stop request is the extra item left).
    assert left_after_turn == [batches - MAX_TURN_BATCHES + 1,
                               batches - 2 * MAX_TURN_BATCHES + 1, 0]


Connect = Callable[[Processor, int], list[Connection]]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Connects ``n`` connections to a processor's engine, on real sockets (socket pairs: what
    the processor writes is taken at once) of an idle I/O loop."""
    loops: list[IOLoop] = []
    sockets: list[socket.socket] = []

    def make(processor: Processor, n: int) -> list[Connection]:
        loop = IOLoop("test", 1 << 20, processor.handle, 1.0)
        loops.append(loop)
        conns = []
        for _ in range(n):
            ours, theirs = socket.socketpair()
            ours.setblocking(False)  # as the server's own sockets are
            sockets.extend((ours, theirs))
            conns.append(Connection(ours, "127.0.0.1", loop, 1 << 20, FrontEnd("gear")))
        processor.handle([(CONNECTED, conn, None) for conn in conns])
        return conns

    yield make
    for sock in sockets:
        sock.close()
    for loop in loops:
        loop.close_all()


def test_a_loop_that_stopped_reading_ahead_is_asked_to_read_again_once_half_is_done(
        connect: Connect) -> None:
    processor = Processor(Engine(EngineOptions(job_handle_prefix=b"H:test")))
    [conn] = connect(processor, 1)
    conn.reads, conn.reading_ahead = MAX_READS_AHEAD + 1, True  # the loop stopped reading it
    rechecks = conn.loop.mailbox.items
    echo = [(ECHO_REQ, (b"x",))]
    for _ in range(MAX_READS_AHEAD + 1):
        processor.handle([(EVENTS, conn, echo)])
        if rechecks:
            break
    assert list(rechecks) == [(RECHECK, conn)]
    assert conn.reads - conn.reads_done == MAX_READS_AHEAD // 2


Counting = Callable[[Callable[[], float]],
                    tuple[Processor, CountingEngine, Connection, Connection]]


@pytest.fixture
def counting(connect: Connect) -> Counting:
    """Makes a counting engine's processor with a client and a worker connected."""

    def make(clock: Callable[[], float]) -> tuple[Processor, CountingEngine, Connection,
                                                  Connection]:
        engine = CountingEngine(EngineOptions(job_handle_prefix=b"H:test"), clock=clock)
        processor = Processor(engine)
        client, worker = connect(processor, 2)
        return processor, engine, client, worker

    return make


def _bucket(seconds: float) -> int:
    return next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))


def test_the_monitor_times_jobs_by_the_batches_that_queue_take_and_end_them(
        counting: Counting) -> None:
    reads = itertools.count(1000)  # every clock read is a second later than the one before
    processor, engine, client, worker = counting(lambda: float(next(reads)))
    processor.handle([(EVENTS, worker, [(CAN_DO, (b"f",))]),
                      (EVENTS, client, [(SUBMIT_JOB, (b"f", b"", b"x"))]),
                      (EVENTS, worker, [(GRAB_JOB, ())])])
    handle = next(iter(engine.jobs))
    processor.handle([(EVENTS, worker, [(WORK_COMPLETE, (handle, b"done"))])])
    # One read per batch: taken in the batch that queued it, it waited 0 s; it ran from that
    # batch to the next one, one read (a second) later.
    wait_counts = [0] * (len(BUCKETS) + 1)
    wait_counts[0] = 1
    run_counts = [0] * (len(BUCKETS) + 1)
    run_counts[_bucket(1.0)] = 1
    assert engine.stats.histograms("wait") == [(b"f", wait_counts, 0.0)]
    assert engine.stats.histograms("run") == [(b"f", run_counts, 1.0)]
    assert engine.stats.ended() == [((b"f", "completed"), 1)]


def test_a_job_a_timer_ends_ran_until_the_timer_ran_not_until_the_last_batch(
        counting: Counting) -> None:
    now = [1000.0]
    processor, engine, client, worker = counting(lambda: now[0])
    processor.handle([(EVENTS, worker, [(CAN_DO_TIMEOUT, (b"f", b"2000"))]),
                      (EVENTS, client, [(SUBMIT_JOB, (b"f", b"", b"x"))])])
    now[0] = 1000.03
    processor.handle([(EVENTS, worker, [(GRAB_JOB, ())])])
    now[0] = 1002.5  # no batch since: the CAN_DO_TIMEOUT of 2 s is due
    processor.tick()
    assert engine.stats.ended() == [((b"f", "timeout"), 1)]
    [(_, wait_counts, waited)] = engine.stats.histograms("wait")
    [(_, run_counts, ran)] = engine.stats.histograms("run")
    assert wait_counts[_bucket(0.03)] == 1 and abs(waited - 0.03) < 1e-9
    assert run_counts[_bucket(2.47)] == 1 and abs(ran - 2.47) < 1e-9
