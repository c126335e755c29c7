"""What the processing thread receives: batches of (kind, connection, payload) items.

I/O loops send CONNECTED, EVENTS (a list of decoded events), CLOSED, and DRAINED (payload: how
many bytes of hand-offs it has written since its last DRAINED, see ``processor``) for their
connections; the queue writer sends JOURNALED (connection None, payload ``(jobs, error)``) after
each commit; the monitor sends CALL (connection None, payload a function to run on the processing
thread between two turns' work, which must not raise).
"""

from __future__ import annotations

from typing import Any

CONNECTED, EVENTS, CLOSED, JOURNALED, DRAINED, CALL = 0, 1, 2, 3, 4, 5

Batch = list[tuple[int, Any, Any]]
