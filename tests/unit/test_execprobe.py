"""Tests of the pure parts of localsvc.node.execprobe: the capped reading of Docker's multiplexed
exec stream, the messages of each outcome, and the runner's slots (how many attempts run at once,
when one counts as busy, that a slot is held until its thread ends). The Docker side is tested
against the real engine in tests/integration/test_probe_hardening.py."""

from __future__ import annotations

import asyncio
import struct
import threading
import time

import pytest

from localsvc.node import execprobe
from localsvc.node.execprobe import (
    OUTPUT_KEEP_BYTES,
    OUTPUT_READ_CAP,
    CappedOutput,
    ExecOutcome,
    ExecProbeRunner,
)

pytestmark = pytest.mark.timeout(20)


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


# ---- CappedOutput ------------------------------------------------------------------------------


def test_frames_are_unwrapped_stdout_and_stderr_in_order() -> None:
    out = CappedOutput()
    out.feed(frame(1, b"ready ") + frame(2, b"warning\n"))
    assert out.text() == "ready warning"
    assert out.read == 8 + 6 + 8 + 8 and not out.exceeded


@pytest.mark.parametrize("chunk", [1, 3, 7, 8, 9, 1000])
def test_frames_split_anywhere_across_reads(chunk: int) -> None:
    """The socket hands back arbitrary pieces: a header or payload cut in two parses the same."""
    data = frame(1, b"a" * 20) + frame(2, b"") + frame(1, b"bc")
    out = CappedOutput()
    for i in range(0, len(data), chunk):
        out.feed(data[i:i + chunk])
    assert out.text() == "a" * 20 + "bc"
    assert out.read == len(data)


def test_keeps_only_the_first_bytes_but_counts_all() -> None:
    out = CappedOutput(keep=10, cap=1000)
    out.feed(frame(1, b"0123456789ABCDEF") + frame(1, b"more"))
    assert bytes(out.kept) == b"0123456789"
    assert out.read == 8 + 16 + 8 + 4


def test_cap_counts_raw_bytes_and_memory_stays_at_keep() -> None:
    """Case 2 (cat of /dev/zero): after the cap the reader stops; what is kept never grows past
    10 KiB however much was read."""
    out = CappedOutput()
    block = frame(1, b"\0" * 32760)
    while not out.exceeded:
        out.feed(block)
    assert OUTPUT_READ_CAP <= out.read < OUTPUT_READ_CAP + len(block)
    assert len(out.kept) == OUTPUT_KEEP_BYTES == 10 * 1024


def test_text_replaces_bad_bytes() -> None:
    out = CappedOutput()
    out.feed(frame(1, b"\xff ok \n"))
    assert out.text() == "\ufffd ok"


# ---- ExecOutcome -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "passed", "message"),
    [
        (ExecOutcome("exited", exit_code=0), True, "command 'cat /tmp/ready' exited with 0"),
        (ExecOutcome("exited", exit_code=3, output="not yet"), False,
         "command 'cat /tmp/ready' exited with 3: not yet"),
        (ExecOutcome("timeout"), False, "command 'cat /tmp/ready' timed out after 1s; stopped it"),
        (ExecOutcome("timeout", detail="no sh", ended=False), False,
         "command 'cat /tmp/ready' timed out after 1s; could not stop it: no sh"),
        (ExecOutcome("output-cap"), False,
         "command 'cat /tmp/ready' wrote more than 1024 KiB of output (probes keep 10 KiB); "
         "stopped it"),
        (ExecOutcome("busy"), False, "4 exec probes were already running on the node for 1s"),
        (ExecOutcome("still-running", detail="no sh", ended=False), False,
         "not run: the previous run of 'cat /tmp/ready' is still running (no sh)"),
        (ExecOutcome("error", detail="No such container"), False,
         "command 'cat /tmp/ready' could not be run: No such container"),
    ],
)
def test_outcome_messages(outcome: ExecOutcome, passed: bool, message: str) -> None:
    assert outcome.passed is passed
    assert outcome.message(["cat", "/tmp/ready"], 1.0) == message


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [
        (ExecOutcome("exited", exit_code=0), True),
        (ExecOutcome("exited", exit_code=1), False),
        (ExecOutcome("timeout"), False),
        (ExecOutcome("output-cap"), False),
        (ExecOutcome("still-running", ended=False), False),  # the command hangs: its failure
        (ExecOutcome("busy"), None),  # not run: no result either way
        (ExecOutcome("error", detail="container is not running"), None),
    ],
)
def test_verdict(outcome: ExecOutcome, verdict: bool | None) -> None:
    assert outcome.verdict is verdict


def test_long_commands_are_shortened_in_messages() -> None:
    message = ExecOutcome("timeout").message(["sh", "-c", "x" * 200], 2)
    assert "x" * 70 + "...'" in message and len(message) < 140


def test_kill_script_tokens_are_fixed_length() -> None:
    """A token is never a prefix of another, so the kill script ends only its own command."""
    assert {len(execprobe.new_token()) for _ in range(50)} == {32}
    assert f"{execprobe.TOKEN_VARIABLE}=$1" in execprobe.KILL_SCRIPT


# ---- ExecProbeRunner slots ---------------------------------------------------------------------


class BlockingAttempts:
    """Stands in for ContainerExecProbes: each attempt blocks its thread until released, and
    records the thread it ran on and how many ran at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads: set[str] = set()
        self.finished = 0

    def attempt(self, command: list[str], timeout: float) -> ExecOutcome:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
        self.release.wait(10)
        with self.lock:
            self.running -= 1
            self.finished += 1
        return ExecOutcome("exited", exit_code=0)


def test_at_most_slots_run_at_once_and_the_rest_are_busy() -> None:
    attempts = BlockingAttempts()
    runner = ExecProbeRunner(slots=2)

    async def main() -> list[ExecOutcome]:
        tasks = [asyncio.ensure_future(runner.run(attempts, ["x"], 0.3)) for _ in range(5)]
        await asyncio.sleep(0.5)  # three of them waited their whole timeout for a slot
        attempts.release.set()
        return list(await asyncio.gather(*tasks))

    try:
        outcomes = asyncio.run(main())
    finally:
        runner.shutdown()
    assert sorted(o.kind for o in outcomes) == ["busy", "busy", "busy", "exited", "exited"]
    assert attempts.most == 2
    assert attempts.threads and all(t.startswith("exec-probe") for t in attempts.threads)


def test_waiting_attempts_get_a_slot_when_one_frees_within_their_timeout() -> None:
    attempts = BlockingAttempts()
    runner = ExecProbeRunner(slots=1)

    async def main() -> list[ExecOutcome]:
        first = asyncio.ensure_future(runner.run(attempts, ["x"], 2))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(runner.run(attempts, ["x"], 2))
        await asyncio.sleep(0.1)
        attempts.release.set()
        return list(await asyncio.gather(first, second))

    try:
        assert [o.kind for o in asyncio.run(main())] == ["exited", "exited"]
    finally:
        runner.shutdown()


def test_a_cancelled_caller_keeps_the_slot_until_its_thread_ends() -> None:
    """A prober cancelled with its pod must not free a slot whose thread still runs a command:
    the slots bound the Docker work really in flight."""
    attempts = BlockingAttempts()
    runner = ExecProbeRunner(slots=1)

    async def main() -> tuple[ExecOutcome, ExecOutcome]:
        first = asyncio.ensure_future(runner.run(attempts, ["x"], 5))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        while_running = await runner.run(attempts, ["x"], 0.2)
        attempts.release.set()
        began = time.monotonic()
        while attempts.finished < 1 and time.monotonic() - began < 5:
            await asyncio.sleep(0.01)
        after = await runner.run(attempts, ["x"], 1)
        return while_running, after

    try:
        while_running, after = asyncio.run(main())
    finally:
        runner.shutdown()
    assert while_running.kind == "busy"
    assert after.kind == "exited"


def test_the_default_executor_is_free_while_probes_hang() -> None:
    """Case 3: with every probe slot taken by hanging commands, work on the default executor
    (the pod lifecycle's Docker calls) still runs at once."""
    attempts = BlockingAttempts()
    runner = ExecProbeRunner(slots=4)

    async def main() -> float:
        hanging = [asyncio.ensure_future(runner.run(attempts, ["sleep"], 5)) for _ in range(8)]
        await asyncio.sleep(0.1)
        began = time.monotonic()
        await asyncio.to_thread(time.sleep, 0.01)
        took = time.monotonic() - began
        attempts.release.set()
        await asyncio.gather(*hanging)
        return took

    try:
        assert asyncio.run(main()) < 0.5
    finally:
        runner.shutdown()
    assert attempts.most == 4
