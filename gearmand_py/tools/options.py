"""Command lines parsed the way boost::program_options parses gearadmin's: long options may be
shortened to any unambiguous prefix, ``--opt=value`` or ``--opt value``, short options take
their value stuck on or as the next word, each option at most once, words that are not options
ignored, ``--`` ends the options. Errors carry boost's wording."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Option(NamedTuple):
    long: str
    short: str | None
    takes_value: bool


class UsageError(Exception):
    """A command line boost would refuse, with its message."""


def parse(argv: Sequence[str], options: Sequence[Option]) -> dict[str, str | None]:
    """``{long name: value (None for a switch)}`` for each option given."""
    by_long = {option.long: option for option in options}
    by_short = {option.short: option for option in options if option.short}
    given: dict[str, str | None] = {}
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            break
        if word.startswith("--"):
            name, has_value, value = word[2:].partition("=")
            option = _lookup(name, by_long, word)
            if option.takes_value and not has_value:
                value, has_value = _next_value(words, option)
            elif has_value and not option.takes_value:
                raise UsageError(f"option '--{option.long}' does not take any arguments")
        elif word.startswith("-") and len(word) > 1:
            option = by_short.get(word[1])
            if option is None:
                raise UsageError(f"unrecognised option '{word}'")
            value, has_value = word[2:], len(word) > 2
            if option.takes_value and not has_value:
                value, has_value = _next_value(words, option)
        else:
            continue
        if option.long in given:
            raise UsageError(f"option '--{option.long}' cannot be specified more than once")
        given[option.long] = value if option.takes_value else None
    return given


def _lookup(name: str, by_long: dict[str, Option], word: str) -> Option:
    if name in by_long:
        return by_long[name]
    matches = sorted(long for long in by_long if long.startswith(name))
    if not matches:
        raise UsageError(f"unrecognised option '{word}'")
    if len(matches) > 1:
        listed = [f"'--{match}'" for match in matches]
        raise UsageError(f"option '--{name}' is ambiguous and matches "
                         + ", ".join(listed[:-1]) + ", and " + listed[-1])
    return by_long[matches[0]]


def _next_value(words: list[str], option: Option) -> tuple[str, bool]:
    if not words or (words[0].startswith("-") and len(words[0]) > 1):
        raise UsageError(f"the required argument for option '--{option.long}' is missing")
    return words.pop(0), True
