"""Short options parsed as glibc's ``getopt(3)`` parses them with ``opterr = 0``, which is how
libgearman's ``gearman`` reads its command line: words that are not options are moved after the
options (unless ``POSIXLY_CORRECT`` is set), ``--`` ends the options, a bad or incomplete option
is reported as ``?`` and parsing goes on, and a long option is read as short ones (``--help`` is
``-`` then ``-h elp``)."""

from __future__ import annotations

import os
from collections.abc import Sequence

#: What getopt returns for an unknown option or one missing its value.
BAD = "?"


def getopt(argv: Sequence[str], spec: str) -> tuple[list[tuple[str, str | None]], list[str]]:
    """``([(option, value or None), ...], operands)`` for ``argv`` without the program name;
    ``spec`` is getopt's option string (``x:`` takes a value)."""
    takes_value = {c for i, c in enumerate(spec) if spec[i + 1:i + 2] == ":"}
    known = set(spec) - {":"}
    in_order = "POSIXLY_CORRECT" in os.environ
    options: list[tuple[str, str | None]] = []
    operands: list[str] = []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            operands += words
            break
        if not word.startswith("-") or word == "-":
            operands.append(word)
            if in_order:
                operands += words
                break
            continue
        for index in range(1, len(word)):
            char = word[index]
            if char not in known:
                options.append((BAD, None))
            elif char not in takes_value:
                options.append((char, None))
            elif index + 1 < len(word):
                options.append((char, word[index + 1:]))
                break
            elif words:
                options.append((char, words.pop(0)))
            else:
                options.append((BAD, None))
    return options, operands
