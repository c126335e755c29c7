"""Hostile input for gearmand-py: the field tables both fuzzers draw from, and a seeded generator.

The property tests (tests/support/strategies.py) and the socket-level fuzzers (tests/server/
test_fuzz.py, scripts/fuzz) generate from the same tables, so a value added here (a new extreme
number, a new admin word) reaches every fuzzer. :class:`Generator` is a plain ``random.Random``
generator so the socket fuzz is reproducible from its seed without hypothesis.

Independent of ``gearmand_py`` on purpose: the packet layout comes from tests/support/wire.py.
"""

from __future__ import annotations

import random
import struct

from tests.support.wire import COMMANDS, field_count

#: Numeric fields gearmand parses with strtol/strtoull/atoi: signs, blanks, 32- and 64-bit bounds
#: and one past them, and text that is not a number at all.
EDGE_NUMBERS: tuple[bytes, ...] = (
    b"0", b"-0", b"+0", b"1", b"-1", b"+5", b" 7", b"\t-3", b"\n9", b" +12", b"  -  4", b"",
    b"-", b"+", b"abc", b"12abc", b"0x10", b"1e5", b"1.5", b"007",
    b"999", b"1000", b"1001", b"60000",
    b"2147483647", b"2147483648", b"-2147483648", b"-2147483649",
    b"4294967295", b"4294967296",
    b"9223372036854775807", b"9223372036854775808",
    b"-9223372036854775808", b"-9223372036854775809",
    b"18446744073709551615", b"18446744073709551616", b"-18446744073709551616",
)
#: Numbers whose size alone has crashed the server: beyond a float (10**400), beyond Python's
#: int-conversion limit (5000 digits).
HUGE_NUMBERS: tuple[bytes, ...] = (
    b"1" + b"0" * 400, b"-1" + b"0" * 400, b"9" * 309, b"9" * 4300, b"9" * 4301, b"9" * 5000,
    b"-" + b"9" * 5000, b" +" + b"1" * 5000,
)

#: Every command word of core/admin.py, and words it must refuse.
ADMIN_WORDS: tuple[bytes, ...] = (
    b"workers", b"status", b"prioritystatus", b"cancel", b"show", b"create", b"drop",
    b"maxqueue", b"getpid", b"shutdown", b"verbose", b"version", b"STATUS", b"Show", b"nope", b"",
)
#: The words a fuzzer may send to a real server: ``shutdown`` from loopback rightly stops it.
SOCKET_ADMIN_WORDS: tuple[bytes, ...] = tuple(w for w in ADMIN_WORDS if w != b"shutdown")
ADMIN_KEYWORDS: tuple[bytes, ...] = (b"job", b"jobs", b"unique", b"function", b"graceful", b"JOB")

#: The role of each field of a request type (how a fuzzer should fill it); types not listed get
#: arbitrary bytes in every field.
FIELD_ROLES: dict[str, tuple[str, ...]] = {
    "CAN_DO": ("function",),
    "CANT_DO": ("function",),
    "CAN_DO_TIMEOUT": ("function", "milliseconds"),
    "SUBMIT_JOB_EPOCH": ("function", "unique", "epoch", "data"),
    "SUBMIT_REDUCE_JOB": ("function", "unique", "unique", "bytes", "data"),
    "SUBMIT_REDUCE_JOB_BACKGROUND": ("function", "unique", "unique", "bytes", "data"),
    "WORK_STATUS": ("handle", "number", "number"),
    "WORK_COMPLETE": ("handle", "data"),
    "WORK_EXCEPTION": ("handle", "data"),
    "WORK_DATA": ("handle", "data"),
    "WORK_WARNING": ("handle", "data"),
    "WORK_FAIL": ("handle",),
    "GET_STATUS": ("handle",),
    "GET_STATUS_UNIQUE": ("unique",),
    "ECHO_REQ": ("data",),
    "SET_CLIENT_ID": ("bytes",),
    "OPTION_REQ": ("option",),
}
for _name in ("SUBMIT_JOB", "SUBMIT_JOB_BG", "SUBMIT_JOB_HIGH", "SUBMIT_JOB_HIGH_BG",
              "SUBMIT_JOB_LOW", "SUBMIT_JOB_LOW_BG"):
    FIELD_ROLES[_name] = ("function", "unique", "data")

FUNCTIONS: tuple[bytes, ...] = (b"f", b"g", b"F", b"", b"f\tx", b"\xff\xfe")
UNIQUES: tuple[bytes, ...] = (b"", b"-", b"u1", b"u2", b"x" * 64, b"x" * 65)
OPTIONS: tuple[bytes, ...] = (b"exceptions", b"EXCEPTIONS", b"exceptionsx", b"")
#: Every packet type number, requests and responses alike (a client may send any of them).
PACKET_TYPES: tuple[int, ...] = tuple(sorted(COMMANDS))[1:]
HEADER = struct.Struct(">4sII")


def roles(ptype: int) -> tuple[str, ...]:
    """The roles of a packet type's fields, one per field it splits into."""
    name = COMMANDS[ptype][0]
    return FIELD_ROLES.get(name) or ("bytes",) * field_count(ptype)


def packet(ptype: int, fields: list[bytes], magic: bytes = b"\0REQ") -> bytes:
    body = b"\0".join(fields)
    return HEADER.pack(magic, ptype, len(body)) + body


class Generator:
    """Seeded hostile traffic: valid packets with generated fields, mutations of them, admin
    lines. ``handles`` are job handles a fuzzer has seen (JOB_CREATED replies), so results and
    status requests sometimes name real jobs."""

    def __init__(self, seed: int, max_data: int = 4096,
                 admin_words: tuple[bytes, ...] = SOCKET_ADMIN_WORDS) -> None:
        self.random = random.Random(seed)
        self.max_data = max_data
        self.admin_words = admin_words
        self.handles: list[bytes] = []

    def number(self) -> bytes:
        r = self.random
        pick = r.random()
        if pick < 0.5:
            return r.choice(EDGE_NUMBERS)
        if pick < 0.65:
            return r.choice(HUGE_NUMBERS)
        return b"%d" % r.randint(-2 ** 65, 2 ** 65)

    def field(self, role: str) -> bytes:
        r = self.random
        if role == "function":
            return r.choice(FUNCTIONS)
        if role == "unique":
            return r.choice(UNIQUES)
        if role == "handle":
            if self.handles and r.random() < 0.7:
                return r.choice(self.handles)
            return r.choice((b"", b"H:nowhere:1", b"H:x:" + self.number()))
        if role in ("number", "milliseconds", "epoch"):
            return self.number()
        if role == "option":
            return r.choice(OPTIONS)
        if role == "data":
            if r.random() < 0.05:
                return b"d" * r.randint(0, 256 * 1024)
            return r.randbytes(r.randint(0, self.max_data))
        return r.randbytes(r.randint(0, 16))

    def valid_packet(self) -> bytes:
        """Any packet type (responses too) with fields filled by role."""
        ptype = self.random.choice(PACKET_TYPES)
        return packet(ptype, [self.field(role) for role in roles(ptype)])

    def mutated_packet(self) -> bytes:
        """A valid packet broken one way: flipped bytes, truncated, a wrong or huge declared
        size, a random type, response magic, a field too many or too few."""
        r = self.random
        data = bytearray(self.valid_packet())
        how = r.randrange(8)
        if how == 0:
            for _ in range(r.randint(1, 4)):
                data[r.randrange(len(data))] ^= 1 << r.randrange(8)
        elif how == 1:
            del data[r.randint(1, len(data)):]
        elif how == 2:
            struct.pack_into(">I", data, 8, r.choice((0, 1, len(data), max(len(data) - 13, 0),
                                                      r.randrange(2 ** 32))))
        elif how == 3:
            struct.pack_into(">I", data, 8, r.choice((2 ** 32 - 1, 2 ** 31, 64 * 2 ** 20 + 1)))
        elif how == 4:
            struct.pack_into(">I", data, 4, r.choice((0, 43, 44, 255, 2 ** 32 - 1,
                                                      r.randrange(2 ** 32))))
        elif how == 5:
            data[:4] = r.choice((b"\0RES", b"\0REQ"[:3] + b"X", b"\0req"))
        elif how == 6:
            body = data[12:] + b"\0" + r.randbytes(r.randint(0, 8))
            data = bytearray(HEADER.pack(b"\0REQ", *struct.unpack_from(">I", data, 4), len(body))
                             + body)
        else:
            body = bytes(data[12:]).rsplit(b"\0", 1)[0]
            data = bytearray(HEADER.pack(b"\0REQ", *struct.unpack_from(">I", data, 4), len(body))
                             + body)
        return bytes(data)

    def admin_line(self) -> bytes:
        """A command word with up to six random tokens (over five closes the connection)."""
        r = self.random
        tokens = [r.choice(self.admin_words)]
        for _ in range(r.choice((0, 0, 1, 2, 2, 3, 4, 5))):
            pick = r.random()
            if pick < 0.3:
                tokens.append(r.choice(ADMIN_KEYWORDS))
            elif pick < 0.5:
                tokens.append(r.choice(FUNCTIONS[:3]))
            elif pick < 0.7:
                tokens.append(self.number().strip().replace(b"\n", b""))
            elif pick < 0.85 and self.handles:
                tokens.append(r.choice(self.handles))
            else:
                tokens.append(bytes(r.randrange(1, 256) for _ in range(r.randint(0, 8)))
                              .replace(b"\n", b"").replace(b"\r", b""))
        return b" ".join(tokens) + r.choice((b"\r\n", b"\n"))

    def garbage(self) -> bytes:
        return self.random.randbytes(self.random.randint(1, 512))

    def input(self) -> bytes:
        """One unit of hostile input, mostly packets."""
        pick = self.random.random()
        if pick < 0.4:
            return self.valid_packet()
        if pick < 0.75:
            return self.mutated_packet()
        if pick < 0.95:
            return self.admin_line()
        return self.garbage()
