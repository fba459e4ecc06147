"""A reader that goes early (`localsvc get pods | head -1`) ends the CLI quietly, as kubectl
does: no BrokenPipeError traceback, exit status 141 (SIGPIPE's)."""

from __future__ import annotations

import subprocess
import sys

# A command whose output (1 MiB) outlasts the pipe's buffer, run through the real main().
PROGRAM = """
import sys
from localsvc.host import cli
from localsvc.host.commands import misc

def big(args):
    for _ in range(16384):
        print("x" * 63)
    return 0

misc.cmd_version = big
sys.exit(cli.main(["version"]))
"""


def test_output_cut_short_by_its_reader_ends_without_a_traceback() -> None:
    command = (f"{sys.executable} -c '{PROGRAM}' | head -c 1 >/dev/null; "
               "echo \"exit=${PIPESTATUS[0]}\"")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stdout.strip() == "exit=141"
