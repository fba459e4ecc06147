"""The probers of one pod: one ContainerProber per running container instance.

A restarted container gets a new prober (its probes start over, as the kubelet's do). Readiness
results land in the container's state; a failed liveness or startup probe marks the container
to be killed and wakes the pod worker, whose decision (localsvc.model.kubelet) kills it. Exec probes go through the node's exec-probe runner (its own threads
and slots, output capped, commands ended: see localsvc.node.execprobe), never the default
executor that the pod lifecycle uses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from localsvc.model.kubelet import probe_failed
from localsvc.model.kubelet_probes import noticed_at, schedule_time
from localsvc.node.execprobe import ContainerExecProbes, ExecOutcome, node_runner
from localsvc.node.podstate import ContainerState
from localsvc.node.prober import ContainerProber, ProbeResult
from localsvc.tasks import spawn

PROBE_KINDS = ("readinessProbe", "livenessProbe", "startupProbe")
# The kubelet's PLEG relists the runtime every second from its start on: the node process's.
# Probe schedules are on the monotonic clock (node/prober.py's _now), as Go's tickers are.
RELIST_START = time.monotonic()


def exec_result(outcome: ExecOutcome, command: list[str], timeout: float) -> ProbeResult:
    """An exec probe's attempt: its message for the pod's Ready condition, and its output as
    the kubelet's Unhealthy event says it (pkg/probe/exec: the command's output; a timeout is
    the runtime's `command "..." timed out`). What the kubelet never meets (the output cap, a
    command that could not be ended) is said in localsvc's words."""
    message = outcome.message(command, timeout)
    if outcome.kind == "exited":
        output = outcome.output
    elif outcome.kind == "timeout":
        output = f"command {json.dumps(' '.join(command))} timed out"  # Go's %q
    else:
        output = message
    return ProbeResult(outcome.verdict, message, output)


class PodProbes:
    def __init__(self, docker_api: Any, pod: str, on_change: Callable[[], None],
                 wake: Callable[[], None],
                 on_unhealthy: Callable[[str, str, str], None] = lambda name, kind, output: None):
        self.docker_api = docker_api
        self.pod = pod  # namespace/name, for task names
        self.on_change = on_change
        self.wake = wake  # the pod worker's: a container is marked to be killed
        self.on_unhealthy = on_unhealthy  # (container name, probe kind, output): it failed
        self._probers: dict[str, tuple[str, asyncio.Task[Any]]] = {}  # name -> (id, task)
        # The kubelet makes a pod's probe workers, and starts their tickers, as it first syncs
        # the pod, before its sandbox: every instance of its containers is probed on those ticks.
        self.ticker_start = time.monotonic()

    def ensure(self, c: ContainerState, spec: dict[str, Any], pod_ip: str) -> None:
        """Run the probes of `c` if it is running (once per container instance); stop them if
        it is not."""
        if not any(spec.get(k) for k in PROBE_KINDS):
            return
        current = self._probers.get(c.name)
        running_id = c.container_id if c.state == "running" else None
        if current and current[0] == running_id:
            return
        if current:
            current[1].cancel()
            del self._probers[c.name]
        c.probe_ready, c.probe_message = False, ""
        if running_id is None or not pod_ip:
            return
        container_id = running_id

        def on_ready(ready: bool, message: str) -> None:
            if c.container_id == container_id and (c.probe_ready, c.probe_message) != (
                ready, message
            ):
                c.probe_ready, c.probe_message = ready, message
                c.ready = c.state == "running" and ready
                self.on_change()

        def on_kill(kind: str, reason: str) -> None:
            if probe_failed(c, container_id, reason, kind):
                self.wake()

        exec_probes = ContainerExecProbes(self.docker_api, container_id)

        async def exec_fn(command: list[str], timeout: float) -> ProbeResult:
            outcome = await node_runner().run(exec_probes, command, timeout)
            return exec_result(outcome, command, timeout)

        def on_failure(kind: str, output: str) -> None:
            if c.container_id == container_id:  # not a late verdict on an older instance
                self.on_unhealthy(c.name, kind, output)

        # Its start (wall clock: the node's, or Docker's for an adopted container) on the
        # schedule's clock.
        started = (time.monotonic() if c.started_at is None
                   else schedule_time(c.started_at, time.time(), time.monotonic()))
        prober = ContainerProber(spec, pod_ip, started, exec_fn, on_ready, on_kill, on_failure,
                                 ticker_start=self.ticker_start,
                                 noticed_at=noticed_at(started, RELIST_START))
        task = spawn(prober.run(), name=f"probe {self.pod}/{c.name}")
        self._probers[c.name] = (container_id, task)

    def cancel_all(self) -> None:
        """Stop every prober (the pod is going). An exec probe's thread still in flight ends by
        itself within its timeout."""
        for _, task in self._probers.values():
            task.cancel()
        self._probers.clear()
