"""gearmand_py.protocol.admin: reply bytes exactly as gearmand 1.1.20 writes them (§2.2–2.3)."""

from __future__ import annotations

from gearmand_py.protocol import admin


def test_bare_ok_ends_crlf() -> None:
    assert admin.OK == b"OK\r\n"


def test_ok_value_ends_lf() -> None:
    assert admin.ok_value(b"x") == b"OK x\n"
    assert admin.ok_value(b"1.1.20+ds") == b"OK 1.1.20+ds\n"
    assert admin.ok_value(b"WARNING") == b"OK WARNING\n"


def test_err_ends_crlf() -> None:
    assert admin.err(b"UNKNOWN_JOB") == b"ERR UNKNOWN_JOB\r\n"
    assert admin.err(b"UNKNOWN_SHOW_ARGUMENTS") == b"ERR UNKNOWN_SHOW_ARGUMENTS\r\n"
    assert admin.err(b"function not found") == b"ERR function not found\r\n"


def test_unknown_command_has_no_space_before_the_word() -> None:
    assert admin.err_unknown_command(b"foo") == b"ERR UNKNOWN_COMMAND Unknown+server+commandfoo\r\n"
    assert admin.err_unknown_command(b"") == b"ERR UNKNOWN_COMMAND Unknown+server+command\r\n"
    assert admin.err_unknown_command(b"a\tb") == (
        b"ERR UNKNOWN_COMMAND Unknown+server+commanda\tb\r\n")


def test_invalid_arguments() -> None:
    prefix = b"ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+"
    for command in (b"create", b"drop", b"maxqueue"):
        assert admin.err_invalid_arguments(command) == prefix + command + b"\r\n"


def test_listings_end_with_dot_lf() -> None:
    assert admin.LIST_END == b".\n"
    assert admin.listing([]) == b".\n"
    assert admin.listing(iter([b"", b"t-1", b"img-1"])) == b"\nt-1\nimg-1\n.\n"
    rows = [admin.tab_row(b"thumb", b"1", b"1", b"1"), admin.tab_row(b"resize", b"3", b"0", b"1")]
    assert admin.listing(rows) == b"thumb\t1\t1\t1\nresize\t3\t0\t1\n.\n"
    workers = [b"38 127.0.0.1 resize-worker-01 : thumb resize", b"39 127.0.0.1 - :"]
    assert admin.listing(workers) == (
        b"38 127.0.0.1 resize-worker-01 : thumb resize\n39 127.0.0.1 - :\n.\n")


def test_tab_row() -> None:
    assert admin.tab_row(b"H:vm:1", b"0", b"0", b"1") == b"H:vm:1\t0\t0\t1"
    assert admin.tab_row(b"only") == b"only"
