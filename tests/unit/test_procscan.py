"""Finding a left-behind exec's processes in a container's /proc listing
(model/kubeapi/procscan.py): pure, on listings written as SCAN_SCRIPT prints them."""

from __future__ import annotations

import pytest

from localsvc.model.kubeapi.procscan import CLOCK_TICKS, Process, parse_scan, pick


def _stat(pid: int, comm: str, ppid: int, start_ticks: int) -> bytes:
    # Fields 3 onwards as the kernel prints them; starttime is field 22.
    rest = ["S", str(ppid)] + ["0"] * 17 + [str(start_ticks)] + ["0"] * 30
    return f"{pid} ({comm}) {' '.join(rest)}\n".encode()


def _entry(pid: int, comm: str, ppid: int, start: float, *argv: str) -> bytes:
    cmdline = b"".join(arg.encode() + b"\0" for arg in argv)
    return (b"\x02" + str(pid).encode() + b"\n" + _stat(pid, comm, ppid, int(start * CLOCK_TICKS))
            + cmdline)


LISTING = (b"1000.50 3000.00\n"
           + _entry(1, "sleep", 0, 10.0, "sleep", "infinity")
           + _entry(40, "sh", 0, 900.0, "sh", "-c", "sleep 300; echo")  # an older exec
           + _entry(57, "sh", 0, 990.0, "sh", "-c", "sleep 300; echo")
           + _entry(58, "sleep", 57, 990.02, "sleep", "300")
           + _entry(59, "odd) name", 58, 990.1, "x")
           + b"\x0260\n")  # a process that ended during the scan


def test_parse_reads_pid_parent_start_and_command_line() -> None:
    uptime, processes = parse_scan(LISTING)
    assert uptime == 1000.5
    assert [p.pid for p in processes] == [1, 40, 57, 58, 59]
    assert processes[2] == Process(57, 0, 990.0, ("sh", "-c", "sleep 300; echo"))
    assert processes[4].ppid == 58  # a ")" in the command name does not shift the fields


def test_parse_refuses_a_listing_without_uptime() -> None:
    with pytest.raises(ValueError, match="uptime"):
        parse_scan(b"\x021\n")


def test_pick_takes_the_exec_started_then_and_its_descendants() -> None:
    uptime, processes = parse_scan(LISTING)
    command = ["sh", "-c", "sleep 300; echo"]
    assert pick(uptime, processes, command, age=10.5) == [57, 58, 59]
    assert pick(uptime, processes, command, age=100.5) == [40]


def test_pick_never_takes_the_containers_own_process_or_a_stranger() -> None:
    uptime, processes = parse_scan(LISTING)
    assert pick(uptime, processes, ["sleep", "infinity"], age=990.5) == []
    assert pick(uptime, processes, ["sh"], age=50.0) == []  # nothing started 50 s ago


def test_pick_follows_a_shell_that_replaced_itself() -> None:
    listing = b"200.0 0\n" + _entry(7, "sleep", 0, 195.0, "sleep", "300")
    uptime, processes = parse_scan(listing)
    assert pick(uptime, processes, ["sh", "-c", "sleep 300"], age=5.2) == [7]
