"""The processing thread's turns: however fast batches keep arriving, a turn ends and flushes."""

from __future__ import annotations

from gearmand_py.core.engine import Engine, EngineOptions
from gearmand_py.server.processor import MAX_TURN_BATCHES, Processor


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
