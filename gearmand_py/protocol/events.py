"""What the decoder hands to the processing thread: small immutable tuples, one per unit of input.

They are ``NamedTuple``s rather than dataclasses because one is built for every packet on the hot
path, and a tuple is the cheapest immutable record Python has.
"""

from __future__ import annotations

from typing import NamedTuple


class Packet(NamedTuple):
    """A well-formed binary request: its type and its fields split as gearmand splits them."""

    type: int
    args: tuple[bytes, ...]


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
