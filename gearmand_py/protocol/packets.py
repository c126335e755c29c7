"""The Gearman packet table: number, name, and how gearmand splits each packet's arguments.

The argument rules come from gearmand's ``gearmand_command_info_list`` (libgearman/command.cc):
``argc`` is the number of fields; when ``has_data`` is true the first ``argc`` fields are
NUL-terminated and the rest of the packet is opaque data (an extra last field), otherwise
``argc - 1`` fields are NUL-terminated and the last field is the rest of the packet.
"""

from __future__ import annotations

from enum import IntEnum
from types import SimpleNamespace
from typing import Final, NamedTuple

REQ: Final = b"\0REQ"
RES: Final = b"\0RES"
HEADER_SIZE: Final = 12


class PacketType(IntEnum):
    TEXT = 0
    CAN_DO = 1
    CANT_DO = 2
    RESET_ABILITIES = 3
    PRE_SLEEP = 4
    UNUSED = 5
    NOOP = 6
    SUBMIT_JOB = 7
    JOB_CREATED = 8
    GRAB_JOB = 9
    NO_JOB = 10
    JOB_ASSIGN = 11
    WORK_STATUS = 12
    WORK_COMPLETE = 13
    WORK_FAIL = 14
    GET_STATUS = 15
    ECHO_REQ = 16
    ECHO_RES = 17
    SUBMIT_JOB_BG = 18
    ERROR = 19
    STATUS_RES = 20
    SUBMIT_JOB_HIGH = 21
    SET_CLIENT_ID = 22
    CAN_DO_TIMEOUT = 23
    ALL_YOURS = 24
    WORK_EXCEPTION = 25
    OPTION_REQ = 26
    OPTION_RES = 27
    WORK_DATA = 28
    WORK_WARNING = 29
    GRAB_JOB_UNIQ = 30
    JOB_ASSIGN_UNIQ = 31
    SUBMIT_JOB_HIGH_BG = 32
    SUBMIT_JOB_LOW = 33
    SUBMIT_JOB_LOW_BG = 34
    SUBMIT_JOB_SCHED = 35
    SUBMIT_JOB_EPOCH = 36
    SUBMIT_REDUCE_JOB = 37
    SUBMIT_REDUCE_JOB_BACKGROUND = 38
    GRAB_JOB_ALL = 39
    JOB_ASSIGN_ALL = 40
    GET_STATUS_UNIQUE = 41
    STATUS_RES_UNIQUE = 42


#: The packet numbers as plain ints (``NUMBERS.JOB_CREATED``) for the hot paths: looking up an
#: IntEnum member and packing it into a header cost about twice what a plain int does.
NUMBERS = SimpleNamespace(**{member.name: int(member) for member in PacketType})

#: One past the highest packet type; a header naming it or anything larger is a protocol failure.
TYPE_LIMIT: Final = 43


class ArgSpec(NamedTuple):
    """How many fields a packet type has and whether the last one is opaque data."""

    argc: int
    has_data: bool

    @property
    def nul_terminated(self) -> int:
        """How many NUL-terminated fields precede the last (rest-of-packet) field."""
        return self.argc if self.has_data else max(self.argc - 1, 0)

    @property
    def fields(self) -> int:
        """How many fields the decoded packet carries."""
        return self.argc + 1 if self.has_data else self.argc


_T = PacketType
ARG_SPECS: dict[int, ArgSpec] = {
    _T.TEXT: ArgSpec(5, False),
    _T.CAN_DO: ArgSpec(1, False),
    _T.CANT_DO: ArgSpec(1, False),
    _T.RESET_ABILITIES: ArgSpec(0, False),
    _T.PRE_SLEEP: ArgSpec(0, False),
    _T.UNUSED: ArgSpec(0, False),
    _T.NOOP: ArgSpec(0, False),
    _T.SUBMIT_JOB: ArgSpec(2, True),
    _T.JOB_CREATED: ArgSpec(1, False),
    _T.GRAB_JOB: ArgSpec(0, False),
    _T.NO_JOB: ArgSpec(0, False),
    _T.JOB_ASSIGN: ArgSpec(2, True),
    _T.WORK_STATUS: ArgSpec(3, False),
    _T.WORK_COMPLETE: ArgSpec(1, True),
    _T.WORK_FAIL: ArgSpec(1, False),
    _T.GET_STATUS: ArgSpec(1, False),
    _T.ECHO_REQ: ArgSpec(0, True),
    _T.ECHO_RES: ArgSpec(0, True),
    _T.SUBMIT_JOB_BG: ArgSpec(2, True),
    _T.ERROR: ArgSpec(2, False),
    _T.STATUS_RES: ArgSpec(5, False),
    _T.SUBMIT_JOB_HIGH: ArgSpec(2, True),
    _T.SET_CLIENT_ID: ArgSpec(1, False),
    _T.CAN_DO_TIMEOUT: ArgSpec(2, False),
    _T.ALL_YOURS: ArgSpec(0, False),
    _T.WORK_EXCEPTION: ArgSpec(1, True),
    _T.OPTION_REQ: ArgSpec(1, False),
    _T.OPTION_RES: ArgSpec(1, False),
    _T.WORK_DATA: ArgSpec(1, True),
    _T.WORK_WARNING: ArgSpec(1, True),
    _T.GRAB_JOB_UNIQ: ArgSpec(0, False),
    _T.JOB_ASSIGN_UNIQ: ArgSpec(3, True),
    _T.SUBMIT_JOB_HIGH_BG: ArgSpec(2, True),
    _T.SUBMIT_JOB_LOW: ArgSpec(2, True),
    _T.SUBMIT_JOB_LOW_BG: ArgSpec(2, True),
    _T.SUBMIT_JOB_SCHED: ArgSpec(7, True),
    _T.SUBMIT_JOB_EPOCH: ArgSpec(3, True),
    _T.SUBMIT_REDUCE_JOB: ArgSpec(4, True),
    _T.SUBMIT_REDUCE_JOB_BACKGROUND: ArgSpec(4, True),
    _T.GRAB_JOB_ALL: ArgSpec(0, False),
    _T.JOB_ASSIGN_ALL: ArgSpec(4, True),
    _T.GET_STATUS_UNIQUE: ArgSpec(1, False),
    _T.STATUS_RES_UNIQUE: ArgSpec(6, False),
}

#: Packet types a client or worker may send to the server; every other type gets
#: ``ERROR INVALID_COMMAND`` as in gearmand (SUBMIT_JOB_SCHED and ALL_YOURS are requests gearmand
#: never implemented, so they are answered the same way).
REQUEST_TYPES = frozenset({
    _T.CAN_DO, _T.CANT_DO, _T.RESET_ABILITIES, _T.PRE_SLEEP, _T.SUBMIT_JOB, _T.GRAB_JOB,
    _T.WORK_STATUS, _T.WORK_COMPLETE, _T.WORK_FAIL, _T.GET_STATUS, _T.ECHO_REQ, _T.SUBMIT_JOB_BG,
    _T.SUBMIT_JOB_HIGH, _T.SET_CLIENT_ID, _T.CAN_DO_TIMEOUT, _T.WORK_EXCEPTION, _T.OPTION_REQ,
    _T.WORK_DATA, _T.WORK_WARNING, _T.GRAB_JOB_UNIQ, _T.SUBMIT_JOB_HIGH_BG, _T.SUBMIT_JOB_LOW,
    _T.SUBMIT_JOB_LOW_BG, _T.SUBMIT_JOB_EPOCH, _T.SUBMIT_REDUCE_JOB,
    _T.SUBMIT_REDUCE_JOB_BACKGROUND, _T.GRAB_JOB_ALL, _T.GET_STATUS_UNIQUE,
})
