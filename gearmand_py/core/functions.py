"""The function table: every function the server knows, and the bound on the idle ones.

gearmand keeps every function name it ever saw, for ever, and a name may be as long as a packet.
So any client can grow the table without end (a CAN_DO or a submit per new name), and with it
every ``status`` reply, which each admin connection holds in full while it is written. Here a
function nobody uses (no worker can do it, no job of it is queued, running or scheduled, and no
admin gave it a ``maxqueue`` or created it with ``create function``) is *idle*; when the table
holds more than ``MAX_FUNCTIONS`` functions or ``MAX_NAME_BYTES`` of names, the oldest idle ones
are forgotten until it holds half that. A forgotten function is made again, empty, the next time
it is named, so only its ``0 0 0`` row in ``status`` is gone.

Functions that are in use are never forgotten; if they alone pass the bound, the next sweep waits
until the table has doubled, so that creating a function stays cheap however many are in use.
"""

from __future__ import annotations

from collections.abc import Callable

from gearmand_py.core.model import Function

#: Functions, and bytes of their names, past which idle functions are forgotten.
MAX_FUNCTIONS = 10_000
MAX_NAME_BYTES = 1024 * 1024


class FunctionTable(dict[bytes, Function]):
    """Name to ``Function``, in the order the functions were made (oldest first).

    A dict itself, so the lookups on the job path (``get``) cost what a dict's do; only making
    and forgetting functions go through the methods below, which keep ``name_bytes``."""

    def __init__(self, max_functions: int = MAX_FUNCTIONS,
                 max_name_bytes: int = MAX_NAME_BYTES) -> None:
        super().__init__()
        self.max_functions = max_functions
        self.max_name_bytes = max_name_bytes
        #: Bytes of all names in the table.
        self.name_bytes = 0
        #: The size past which the next sweep runs: the bound, or twice what a sweep left.
        self._sweep_at = (max_functions, max_name_bytes)
        #: What makes a function from its name (the counting engine's carry their counters).
        self.new_function: Callable[[bytes], Function] = Function
        #: Told the name of each function the table forgets (the counting engine notes them
        #: for the monitor, which then drops their rows).
        self.on_forget: Callable[[bytes], None] = _ignore

    def make(self, name: bytes) -> Function:
        """A new function called ``name``, which is not in the table yet."""
        function = self[name] = self.new_function(name)
        self.name_bytes += len(name)
        if len(self) > self._sweep_at[0] or self.name_bytes > self._sweep_at[1]:
            self._sweep(function)
        return function

    def forget(self, function: Function) -> None:
        del self[function.name]
        self.name_bytes -= len(function.name)
        self.on_forget(function.name)

    def _sweep(self, new: Function) -> None:
        """Forget idle functions, oldest first, until the table holds half the bound; never
        ``new``, which its caller is about to use."""
        functions, name_bytes = self.max_functions // 2, self.max_name_bytes // 2
        for function in list(self.values()):
            if len(self) <= functions and self.name_bytes <= name_bytes:
                break
            if function is not new and idle(function):
                self.forget(function)
        self._sweep_at = (max(self.max_functions, 2 * len(self)),
                          max(self.max_name_bytes, 2 * self.name_bytes))


def _ignore(name: bytes) -> None:
    pass


def idle(function: Function) -> bool:
    """Nothing refers to ``function`` but the table, and no admin asked for it to be kept."""
    return (function.worker_count == 0 and function.job_total == 0 and not function.declared
            and not any(function.max_queue))
