"""Finding an exec's process inside its container from a /proc listing, so the node can end
the process a client left behind. Pure.

Docker has no API to stop an exec, and the engine's PID of it is in the host's PID namespace,
which the node cannot see. Inside the container an exec's first process has parent 0 (it was
started by the runtime, not by a process of the container); among those the one that started
when the node started the exec is it. SCAN_SCRIPT prints what `pick` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CLOCK_TICKS = 100  # USER_HZ: /proc/PID/stat's start time unit on every Linux architecture
START_TOLERANCE = 3.0  # seconds between the node's clock and the process's recorded start
# The uptime, then per process: \x02, its PID, its stat line and its command line.
SCAN_SCRIPT = ('cat /proc/uptime; for d in /proc/[0-9]*; do printf "\\002%s\\n" "${d#/proc/}"; '
               'cat "$d/stat" "$d/cmdline" 2>/dev/null; done')


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    start: float  # seconds after boot
    cmdline: tuple[str, ...]


def parse_scan(output: bytes) -> tuple[float, list[Process]]:
    """The uptime (seconds) and the processes SCAN_SCRIPT printed; unreadable entries (a process
    that ended during the scan) are skipped."""
    head, *entries = output.split(b"\x02")
    try:
        uptime = float(head.split()[0])
    except (IndexError, ValueError):
        raise ValueError(f"no uptime in the scan's first line: {head[:80]!r}") from None
    processes = []
    for entry in entries:
        pid_text, _, rest = entry.partition(b"\n")
        close = rest.rfind(b")")  # the command name in parentheses may hold anything
        if close < 0 or not pid_text.isdigit():
            continue
        line_end = rest.find(b"\n", close)
        fields = rest[close + 1:line_end if line_end >= 0 else None].split()
        if len(fields) < 20:
            continue
        cmdline = rest[line_end + 1:] if line_end >= 0 else b""
        processes.append(Process(
            pid=int(pid_text), ppid=int(fields[1]), start=int(fields[19]) / CLOCK_TICKS,
            cmdline=tuple(part.decode(errors="replace")
                          for part in cmdline.split(b"\0") if part)))
    return uptime, processes


def pick(uptime: float, processes: Sequence[Process], command: Sequence[str],
         age: float) -> list[int]:
    """The PIDs to end for an exec of `command` started `age` seconds ago: its first process
    and every descendant; [] when no process fits."""
    expected = uptime - age
    roots = [p for p in processes if p.ppid == 0 and p.pid != 1
             and abs(p.start - expected) <= START_TOLERANCE]
    if not roots:
        return []
    # The same command line first (a shell may have replaced itself: then the start time).
    roots.sort(key=lambda p: (p.cmdline != tuple(command), abs(p.start - expected)))
    chosen = [roots[0].pid]
    children: dict[int, list[int]] = {}
    for process in processes:
        children.setdefault(process.ppid, []).append(process.pid)
    index = 0
    while index < len(chosen):
        chosen.extend(children.get(chosen[index], []))
        index += 1
    return chosen
