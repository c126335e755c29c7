"""What the processing thread receives: batches of (kind, connection, payload) items.

I/O loops send CONNECTED, EVENTS (a list of decoded events), CLOSED, and DRAINED (payload: how
many bytes of hand-offs it has written since its last DRAINED, see ``processor``) for their
connections; the queue writer sends JOURNALED (connection None, payload ``(jobs, error)``) after
each commit; the monitor sends CALL (connection None, payload a function to run on the processing
thread between two turns' work, which must not raise).
"""

from __future__ import annotations

from typing import Any, Final

# Final: the compiled modules that compare with them use the numbers, not a lookup each time.
CONNECTED: Final = 0
EVENTS: Final = 1
CLOSED: Final = 2
JOURNALED: Final = 3
DRAINED: Final = 4
CALL: Final = 5

Batch = list[tuple[int, Any, Any]]
