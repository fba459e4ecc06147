"""Readiness, liveness and startup probes, run from the node (which is on the pod network).

`probe_once` performs one attempt (httpGet, tcpSocket, exec) and says whether it passed;
`ContainerProber` runs a container's probes on their schedules with their thresholds and reports
changes through callbacks (`on_ready` gets the failure message too, which the pod shows in its
Ready condition; `on_failure` gets each failure's kind and the probe's output, which the
kubelet's Unhealthy event says). It never touches Docker objects itself except through
`exec_fn`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from localsvc.model.kubelet_probes import ProbeClock
from localsvc.model.ports import container_port

log = logging.getLogger("localsvc.prober")
# The probe schedule's clock (tests replace it): monotonic, so that a wall clock set back or
# forward neither stalls the probes nor runs them all at once.
_now = time.monotonic
Obj = dict[str, Any]


class ProbeResult(NamedTuple):
    """One attempt. `passed` None: not run (the node was busy: see localsvc.node.execprobe)."""

    passed: bool | None
    message: str = ""  # why it did not pass, as the pod's Ready condition says it
    output: str = ""  # the probe's output, as the kubelet's Unhealthy event says it


def failed(message: str) -> ProbeResult:
    """A failure whose output is its message (http, tcp: the kubelet prints its error)."""
    return ProbeResult(False, message, message)


# (command, timeout) -> the attempt's result
ExecFn = Callable[[list[str], float], Awaitable[ProbeResult]]


@dataclass(frozen=True)
class ProbeSettings:
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def of(cls, probe: Obj) -> ProbeSettings:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            success_threshold=int(probe.get("successThreshold") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
        )


def resolve_port(port: Any, container: Obj) -> int:
    number = container_port(port, [container])
    if number is not None:
        return number
    raise ValueError(f'port "{port}" is not a named port of container {container.get("name")}')


async def _http_get(ip: str, port: int, spec: Obj, timeout: float) -> ProbeResult:
    path = spec.get("path") or "/"
    if not path.startswith("/"):
        # The kubelet builds a URL from the path, and Go's URL formatting adds the leading slash:
        # `healthz` is requested as `/healthz`, never as an invalid request line.
        path = "/" + path
    host = ip
    headers = {"Host": f"{host}:{port}", "User-Agent": "kube-probe/1.31", "Accept": "*/*",
               "Connection": "close"}
    for h in spec.get("httpHeaders") or []:
        # Header names are case-insensitive: a user's `host` replaces the default `Host`.
        for existing in [k for k in headers if k.lower() == str(h["name"]).lower()]:
            del headers[existing]
        headers[h["name"]] = h["value"]
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
    try:
        writer.write((request + "\r\n").encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    parts = line.decode(errors="replace").split()
    if len(parts) < 2 or not parts[1].isdigit():
        return failed(f"bad HTTP response {line[:60]!r}")
    code = int(parts[1])
    if 200 <= code < 400:
        return ProbeResult(True)
    return failed(f"HTTP probe failed with statuscode: {code}")


async def probe_once(probe: Obj, container: Obj, ip: str, exec_fn: ExecFn) -> ProbeResult:
    """One attempt of a probe: (passed, message and output when it did not). Passed None: no
    result, the node could not run it (the kubelet likewise throws away a probe that errs
    inside itself)."""
    settings = ProbeSettings.of(probe)
    try:
        if "httpGet" in probe:
            spec = probe["httpGet"]
            if (spec.get("scheme") or "HTTP").upper() != "HTTP":
                return failed("only scheme HTTP is supported by localsvc probes")
            port = resolve_port(spec["port"], container)
            return await _http_get(spec.get("host") or ip, port, spec, settings.timeout)
        if "tcpSocket" in probe:
            port = resolve_port(probe["tcpSocket"]["port"], container)
            _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), settings.timeout)
            writer.close()
            return ProbeResult(True)
        if "exec" in probe:
            return await exec_fn([str(c) for c in probe["exec"]["command"]], settings.timeout)
        return failed("grpc probes are not supported by localsvc")
    except TimeoutError:
        return failed(f"timeout after {settings.timeout:g}s")
    except (OSError, ValueError) as err:
        return failed(str(err) or type(err).__name__)


class ContainerProber:
    """Runs one container's probes until cancelled, timed as the kubelet's probe workers
    (localsvc.model.kubelet_probes): on the ticks of a ticker started with the pod
    (`ticker_start`), plus the readiness probe the kubelet triggers once it has noticed the
    container's start (`noticed_at`), when a startup probe passes and when readiness turns not
    ready. None for either: the container's start. All three on _now's clock (monotonic).

    Readiness starts False (True when there is no readiness probe); nothing but the startup probe
    runs until it has passed. A liveness or startup probe failing `failureThreshold` times in a
    row calls `on_kill` once (its kind, and why for the log); the container is then restarted
    and gets a new prober.
    """

    def __init__(
        self,
        container: Obj,
        ip: str,
        started_at: float,
        exec_fn: ExecFn,
        on_ready: Callable[[bool, str], None],
        on_kill: Callable[[str, str], None],
        on_failure: Callable[[str, str], None] = lambda kind, output: None,
        *,
        ticker_start: float | None = None,
        noticed_at: float | None = None,
    ):
        self.container = container
        self.ip = ip
        self.started_at = started_at
        self.ticker_start = started_at if ticker_start is None else ticker_start
        self.noticed_at = started_at if noticed_at is None else noticed_at
        self.exec_fn = exec_fn
        self.on_ready = on_ready
        self.on_kill = on_kill
        # Every failed probe (its kind: "readiness", "liveness", "startup"; its output): the
        # kubelet's Unhealthy event is recorded per failure, not only when the verdict changes.
        self.on_failure = on_failure

    async def run(self) -> None:
        startup = self.container.get("startupProbe")
        if startup and not await self._loop(startup, "startup", until_success=True):
            return
        # The readiness probe runs when triggered: at the noticed start, or as the startup
        # probe passed (the pod syncs with its container started and not ready).
        triggered = self.noticed_at if not startup else _now()
        tasks = []
        if self.container.get("readinessProbe"):
            tasks.append(self._loop(self.container["readinessProbe"], "readiness",
                                    triggered_at=triggered))
        if self.container.get("livenessProbe"):
            tasks.append(self._loop(self.container["livenessProbe"], "liveness"))
        if tasks:
            await asyncio.gather(*tasks)

    async def _loop(self, probe: Obj, kind: str, until_success: bool = False,
                    triggered_at: float | None = None) -> bool:
        settings = ProbeSettings.of(probe)
        clock = ProbeClock(self.ticker_start, settings.period, settings.initial_delay,
                           self.started_at)
        # Only readiness is triggered; the others wait for their worker's next tick. (A
        # container adopted long after its start: its initial delay is long over.)
        at = (clock.first_probe(triggered_at) if triggered_at is not None
              else clock.tick_after(_now()))
        successes = failures = 0
        state: bool | None = None
        while True:
            await asyncio.sleep(max(0.0, at - _now()))
            ok, message, output = await probe_once(probe, self.container, self.ip, self.exec_fn)
            # A tick missed while probing is delivered at once (Go's ticker keeps one).
            at = max(clock.next_probe(at), _now())
            if ok is None:
                # No result: counts neither way, so a busy node never restarts a container.
                # A readiness probe not yet reported says why the container is not ready.
                if kind == "readiness" and state is None:
                    state = False
                    self.on_ready(False, f"Readiness probe not run: {message}")
                continue
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                self.on_failure(kind, output)
            if kind == "readiness":
                if ok and successes >= settings.success_threshold and state is not True:
                    state = True
                    self.on_ready(True, "")
                elif not ok and state is not False and (
                    failures >= settings.failure_threshold or state is None
                ):
                    if state is True:  # a changed verdict syncs the pod: probe again now
                        at = _now()
                    state = False
                    self.on_ready(False, f"Readiness probe failed: {message}")
            elif ok and kind == "startup":
                return True
            elif not ok and failures >= settings.failure_threshold:
                log.info("%s probe of %s failed %d times: %s", kind, self.container.get("name"),
                         failures, message)
                self.on_kill(kind, f"{kind.capitalize()} probe failed: {message}")
                return False
