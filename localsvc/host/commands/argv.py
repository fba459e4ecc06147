"""Splitting a command line before argparse sees it. Pure.

`exec POD -c C -- CMD ...`: argparse cannot tell the command's own flags from ours once POD is
given (a REMAINDER positional swallows `-c C`), so, as kubectl does, everything after the first
`--` is the command and the part before it is parsed normally: flags may stand before or after POD.
"""

from __future__ import annotations

from collections.abc import Sequence

# Top-level options that take a value, so that their value is not taken for the subcommand.
_VALUED = ("--env", "-e")
TAKES_COMMAND = ("exec",)


def subcommand_index(argv: Sequence[str]) -> int | None:
    """Where the subcommand word is, skipping the top-level options before it."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            return None
        if word in _VALUED:
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return i
    return None


def split_command(argv: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """(what argparse parses, the command after `--` or None) for commands that run one."""
    words = list(argv)
    at = subcommand_index(words)
    if at is None or words[at] not in TAKES_COMMAND or "--" not in words[at + 1:]:
        return words, None
    dashes = words.index("--", at + 1)
    return words[:dashes], words[dashes + 1:]
