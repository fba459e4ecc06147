"""Exec probes that cannot hurt the node: output streamed and capped, commands ended on time,
a bounded number running at once, on threads of their own.

A probe command is run with the Docker exec API and its output read from the raw stream, never
buffered whole (`exec_run` keeps everything: `cat` of /dev/zero grew the node by 150 MB/s). Docker
has no call to end an exec, and the pid that exec inspect reports is the engine's (host) pid,
which means nothing inside the container's pid namespace. So each probe command carries a
unique environment variable, and ending it means running, in the same container,
`sh -c KILL_SCRIPT TOKEN`: it kills every process whose environment holds that token (the
command and anything it started). A container without `sh` and `grep` cannot be cleaned that
way; then at most one unended run per probe command exists: the next attempt fails instead of
starting another (`previous run still running`).

Why these numbers:
- OUTPUT_KEEP_BYTES, 10 KiB: what the kubelet keeps of a probe's output, enough for any message.
- OUTPUT_READ_CAP, 1 MiB: a probe writing more is broken (reading /dev/zero or a log). The cap
  is reached in ~60 ms (measured: `cat /dev/zero`), costs the node one 64 KiB read buffer, and
  the command is then ended and the attempt fails. (The kubelet would read on to the timeout.)
- EXEC_PROBE_CONCURRENCY, 4: measured on 2 vCPUs (Docker 20.10): an attempt of `true` takes
  86 ms, ending a timed-out command adds ~120 ms, and 40 attempts take 3.6-4.0 s whether 1, 2,
  4 or 8 run at once: the engine runs ~10 execs/s, so more slots add no throughput, only
  threads sitting on hanging commands. 4 lets three hanging probes wait out their timeouts
  while a healthy one still runs, and keeps the engine's queue (and so the lifecycle's calls)
  short. An attempt waits for a slot at most its own timeout, then is not run: it counts
  neither as a success nor as a failure (a busy node must not restart containers), and a pod
  not yet ready says why. The threads are this module's own executor, so the default executor,
  which the pod lifecycle, the API and DNS use, never waits behind a probe.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from localsvc.runtime.execs import ExecApi, exit_code

log = logging.getLogger("localsvc.execprobe")

OUTPUT_KEEP_BYTES = 10 * 1024
OUTPUT_READ_CAP = 1024 * 1024
EXEC_PROBE_CONCURRENCY = 4
KILL_TIMEOUT = 3.0  # for the exec that ends a probe command
EXIT_CODE_WAIT = 0.5  # after the output ends, the engine may take a moment to record the exit
TOKEN_VARIABLE = "LOCALSVC_PROBE_ID"

# Kills the processes of the container whose environment holds TOKEN_VARIABLE=$1 and prints how
# many. Tokens all have the same length, so one is never a prefix of another.
KILL_SCRIPT = (
    'n=0; for d in /proc/[0-9]*; do p=${d#/proc/}; [ "$p" = "$$" ] && continue; '
    f'if grep -qF "{TOKEN_VARIABLE}=$1" "$d/environ" 2>/dev/null; '
    'then kill -9 "$p" 2>/dev/null && n=$((n+1)); fi; done; echo "$n"'
)


def new_token() -> str:
    return uuid.uuid4().hex


# ---- the output stream (pure) ----------------------------------------------------------------


@dataclass
class CappedOutput:
    """Docker's multiplexed exec stream (8-byte frame headers: stream, 0, 0, 0, big-endian
    length), parsed incrementally: keeps the first `keep` bytes of stdout and stderr as they come
    and counts every byte read, so the reader knows when to stop."""

    keep: int = OUTPUT_KEEP_BYTES
    cap: int = OUTPUT_READ_CAP
    read: int = 0
    kept: bytearray = field(default_factory=bytearray)
    _header: bytearray = field(default_factory=bytearray)
    _frame_left: int = 0

    def feed(self, data: bytes) -> None:
        self.read += len(data)
        view = memoryview(data)
        while view:
            if self._frame_left == 0:
                take = 8 - len(self._header)
                self._header += view[:take]
                view = view[take:]
                if len(self._header) == 8:
                    self._frame_left = struct.unpack(">xxxxL", self._header)[0]
                    self._header.clear()
                continue
            chunk = view[: self._frame_left]
            self._frame_left -= len(chunk)
            view = view[len(chunk):]
            room = self.keep - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]

    @property
    def exceeded(self) -> bool:
        return self.read >= self.cap

    def text(self) -> str:
        return bytes(self.kept).decode(errors="replace").strip()


# ---- what one attempt came to (pure) ---------------------------------------------------------


@dataclass(frozen=True)
class ExecOutcome:
    """One exec-probe attempt. `ended` is whether the command is known to have stopped."""

    kind: str  # exited | timeout | output-cap | busy | still-running | error
    exit_code: int | None = None
    output: str = ""
    detail: str = ""
    ended: bool = True

    @property
    def passed(self) -> bool:
        return self.kind == "exited" and self.exit_code == 0

    @property
    def verdict(self) -> bool | None:
        """The probe's result; None when the command was not run: every slot was taken, or the
        engine refused the exec (container stopping). That is the node's problem, not the
        container's, and must not count towards a restart: the kubelet, too, throws away the
        result of a probe that errs inside itself."""
        return None if self.kind in ("busy", "error") else self.passed

    def message(self, command: list[str], timeout: float) -> str:
        """The reason an attempt failed, as a user reads it in the pod's Ready condition."""
        shown = " ".join(command)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        stopped = "stopped it" if self.ended else f"could not stop it: {self.detail}"
        if self.kind == "exited":
            tail = f": {self.output}" if self.output else ""
            return f"command {shown!r} exited with {self.exit_code}{tail}"
        if self.kind == "timeout":
            return f"command {shown!r} timed out after {timeout:g}s; {stopped}"
        if self.kind == "output-cap":
            return (f"command {shown!r} wrote more than {OUTPUT_READ_CAP // 1024} KiB of output "
                    f"(probes keep {OUTPUT_KEEP_BYTES // 1024} KiB); {stopped}")
        if self.kind == "busy":
            return (f"{EXEC_PROBE_CONCURRENCY} exec probes were already running on the node "
                    f"for {timeout:g}s")
        if self.kind == "still-running":
            return f"not run: the previous run of {shown!r} is still running ({self.detail})"
        return f"command {shown!r} could not be run: {self.detail}"


# ---- the Docker side (blocking; runs on the probe threads) -----------------------------------


def _raw_socket(stream: Any) -> socket.socket:
    # exec_start(socket=True) hands back a SocketIO over the engine connection (unix socket).
    raw = getattr(stream, "_sock", stream)
    assert isinstance(raw, socket.socket), type(raw)
    return raw


def _read_capped(raw: socket.socket, deadline: float, output: CappedOutput) -> str:
    """Read until the stream ends ("eof"), the deadline passes ("timeout") or the cap is
    reached ("output-cap"). Memory stays within a 64 KiB buffer plus what `output` keeps."""
    while not output.exceeded:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        raw.settimeout(left)
        try:
            data = raw.recv(65536)
        except TimeoutError:
            return "timeout"
        if not data:
            return "eof"
        output.feed(data)
    return "output-cap"


def _start(api: ExecApi, container_id: str, command: list[str],
           environment: dict[str, str] | None = None) -> str:
    """Create an exec (not started yet): its id."""
    return str(api.exec_create(container_id, command, stdout=True, stderr=True,
                               environment=environment)["Id"])


def _read(api: ExecApi, exec_id: str, timeout: float) -> tuple[str, CappedOutput]:
    """Start an exec and read its output within `timeout`: how it ended, and the output."""
    output = CappedOutput()
    stream = api.exec_start(exec_id, socket=True)
    try:
        raw = _raw_socket(stream)
        try:
            return _read_capped(raw, time.monotonic() + timeout, output), output
        finally:
            raw.close()
    finally:
        stream.close()


def end_command(api: ExecApi, container_id: str, exec_id: str, token: str) -> str:
    """End a probe command and everything it started; "" when it is gone, else why not."""
    try:
        kill_id = _start(api, container_id, ["sh", "-c", KILL_SCRIPT, "sh", token])
        how, output = _read(api, kill_id, KILL_TIMEOUT)
    except Exception as err:  # the container may be gone: then so is the command
        return "" if _exit_code_or_gone(api, exec_id) else f"ending it failed: {err}"
    if _exit_code_or_gone(api, exec_id):
        return ""
    if how != "eof":
        return f"ending it: {how}"
    said = output.text()
    return f"the container has no working sh and grep to end it ({said[:200] or 'no output'})"


def _exit_code_or_gone(api: ExecApi, exec_id: str) -> bool:
    try:
        return exit_code(api, exec_id, EXIT_CODE_WAIT) is not None
    except Exception:  # inspect failing: the exec (and its container) no longer exists
        return True


@dataclass
class Unended:
    exec_id: str
    token: str


class ContainerExecProbes:
    """Exec probes of one container instance. Remembers, per command, a run that could not be
    ended, so that a broken container never collects more than one stuck run per command."""

    def __init__(self, api: ExecApi, container_id: str):
        self.api = api
        self.container_id = container_id
        self.unended: dict[tuple[str, ...], Unended] = {}

    def attempt(self, command: list[str], timeout: float) -> ExecOutcome:
        """One attempt, blocking, bounded by `timeout` plus the time to end the command. Never
        raises: an engine error is an outcome too."""
        key = tuple(command)
        try:
            previous = self.unended.get(key)
            if previous is not None:
                why = end_command(self.api, self.container_id, previous.exec_id, previous.token)
                if why:
                    return ExecOutcome("still-running", detail=why, ended=False)
                del self.unended[key]
            token = new_token()
            exec_id = _start(self.api, self.container_id, command, {TOKEN_VARIABLE: token})
        except Exception as err:  # not started: nothing to end
            return ExecOutcome("error", detail=str(err) or type(err).__name__)
        try:
            how, output = _read(self.api, exec_id, timeout)
            if how == "eof":
                code = exit_code(self.api, exec_id, EXIT_CODE_WAIT)
                if code is not None:
                    return ExecOutcome("exited", exit_code=code, output=output.text())
                how = "timeout"  # output closed but the command lives on
            error = ""
        except Exception as err:  # the engine connection broke mid-run: end the command
            how, output, error = "error", CappedOutput(), str(err) or type(err).__name__
        why = end_command(self.api, self.container_id, exec_id, token)
        if why:
            self.unended[key] = Unended(exec_id, token)
            log.warning("exec probe %r in %s: %s", command, self.container_id[:12], why)
        detail = "; ".join(d for d in (error, why) if d)
        return ExecOutcome(how, output=output.text(), detail=detail, ended=not why)


class ProbeAttempts(Protocol):
    def attempt(self, command: list[str], timeout: float) -> ExecOutcome: ...


class ExecProbeRunner:
    """The node's exec-probe slots: at most `slots` attempts at once, on threads of their own."""

    def __init__(self, slots: int = EXEC_PROBE_CONCURRENCY):
        self.slots = slots
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="exec-probe")
        self._semaphore: asyncio.Semaphore | None = None

    def _gate(self) -> asyncio.Semaphore:
        # Made on first use, inside the loop that uses it.
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        return self._semaphore

    async def run(self, probes: ProbeAttempts, command: list[str], timeout: float) -> ExecOutcome:
        gate = self._gate()
        try:
            async with asyncio.timeout(timeout):
                await gate.acquire()
        except TimeoutError:
            return ExecOutcome("busy")
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self._executor, probes.attempt, command, timeout
            )
        except BaseException:
            gate.release()
            raise
        # The slot is freed when the thread ends, not when the caller stops waiting (a prober
        # cancelled with its pod): the thread ends by itself within the timeout plus the time
        # to end the command, so the slots bound the work really running.
        future.add_done_callback(lambda _: gate.release())
        return await asyncio.shield(future)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_node_runner: ExecProbeRunner | None = None


def node_runner() -> ExecProbeRunner:
    """The one runner of the node process (its slots are shared by every pod)."""
    global _node_runner
    if _node_runner is None:
        _node_runner = ExecProbeRunner()
    return _node_runner
