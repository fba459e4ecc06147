"""The `localsvc` command: arguments -> Environment calls; errors -> messages and exit codes.

Exit codes: 0 success, 1 failure, 2 usage error. Diagnostics go to stderr, results to stdout.
The commands live in localsvc.host.commands, one module per group; this module parses and dispatches.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from localsvc.host.commands.argv import split_command
from localsvc.host.commands.common import UsageError as UsageError  # re-exported
from localsvc.host.commands.common import error
from localsvc.host.commands.parser import build_parser as build_parser  # re-exported
from localsvc.errors import LocalsvcError


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line as the commands see it; exits 2 (argparse) on a malformed one.
    For exec, everything after the first `--` is the command to run (args.exec_command)."""
    head, command = split_command(argv)
    args = build_parser().parse_args(head)
    if command is not None:
        args.exec_command = command
    return args


def _internal(argv: list[str]) -> int | None:
    """Entry points used inside localsvc's own containers; not listed in --help."""
    from localsvc.host.commands import misc

    if argv[:1] == ["node"]:
        return misc.cmd_node()
    if argv[:1] == ["reap"] and len(argv) == 2:
        return misc.cmd_reap(argv[1])
    if argv[:1] == ["svclb"]:
        return misc.cmd_svclb()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["node"], ["reap"], ["svclb"]):
        code = _internal(argv)
        if code is not None:
            return code
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(build_parser())  # exits after printing the completions
    args = parse(argv)
    if not getattr(args, "subcommand", None):
        build_parser().print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except UsageError as err:
        error(str(err))
        return 2
    except LocalsvcError as err:  # ManifestError included: its message lists every problem
        error(str(err))
        return 1
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went (`localsvc get pods | head`): quiet, as kubectl; stdout points at
        # /dev/null so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
