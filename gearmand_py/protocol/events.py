"""What the decoder hands to the processing thread: small immutable tuples, one per unit of input.

A binary request, the one event built for every packet on the hot path, is a plain
``(type, args)`` tuple: building a NamedTuple instead costs five times as much (0.38 us against
0.07 us), several times per job. The rarer events are ``NamedTuple``s, so a consumer tells them
apart by class: ``type(event) is tuple`` is a packet.
"""

from __future__ import annotations

from typing import Any, NamedTuple


Args = tuple[Any, ...]
"""A packet's fields: ``bytes``, except that a job's data of ``codec.LARGE`` bytes or more is a
read-only ``memoryview``. Typed as ``Any`` rather than ``bytes`` because the compiled build
(mypyc) checks declared types at run time, and would refuse the view."""

Packet = tuple[int, Args]
"""A well-formed binary request: its type and its fields split as gearmand splits them."""


class AdminCommand(NamedTuple):
    """One text admin line, split into gearmand's tokens (at most five)."""

    tokens: tuple[bytes, ...]


class Rejected(NamedTuple):
    """A complete packet that gets an ERROR reply; the stream is still in sync and stays open."""

    code: bytes
    text: bytes


class Fatal(NamedTuple):
    """Input the stream cannot recover from: reply with ``code``/``text`` if set, then close."""

    reason: str
    code: bytes = b""
    text: bytes = b""


Event = Packet | AdminCommand | Rejected | Fatal
