"""The processing thread's turns: however fast batches keep arriving, a turn ends and flushes;
and it tells an I/O loop that stopped reading ahead of it when it has caught up."""

from __future__ import annotations

from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.protocol.packets import PacketType
from gearmand_py.server.batches import EVENTS
from gearmand_py.server.io_loop import MAX_READS_AHEAD
from gearmand_py.server.processor import MAX_TURN_BATCHES, Processor

ECHO_REQ = int(PacketType.ECHO_REQ)


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


class _Loop:
    """Records what the processing thread asks of an I/O loop."""

    def __init__(self) -> None:
        self.rechecked: list[object] = []

    def recheck(self, conn: object) -> None:
        self.rechecked.append(conn)


class _Conn:
    """The fields of a ``Connection`` that reading ahead involves."""

    def __init__(self, loop: _Loop, reads: int) -> None:
        self.loop, self.reads, self.reads_done, self.reading_ahead = loop, reads, 0, True
        self.fd, self.ip, self.peer = 7, "127.0.0.1", None


def test_a_loop_that_stopped_reading_ahead_is_asked_to_read_again_once_half_is_done() -> None:
    engine = Engine(EngineOptions(job_handle_prefix=b"H:test"))
    processor = Processor(engine)
    loop = _Loop()
    conn = _Conn(loop, reads=MAX_READS_AHEAD + 1)  # the loop stopped reading it
    conn.peer = engine.connect(conn, conn.fd, conn.ip)
    echo = [(ECHO_REQ, (b"x",))]
    for _ in range(MAX_READS_AHEAD + 1):
        processor.handle([(EVENTS, conn, echo)])
        if loop.rechecked:
            break
    assert loop.rechecked == [conn]
    assert conn.reads - conn.reads_done == MAX_READS_AHEAD // 2
