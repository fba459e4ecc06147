"""One pod's lifecycle, as the kubelet runs it: create or adopt, restart with back-off, stop.

A PodWorker is an asyncio task per pod. Docker events and the controller only *wake* it; it then
looks at its containers and decides (restart now, wait for back-off, mark the pod done). All
Docker calls run in threads. The worker never touches another pod or the desired state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from localsvc.model.podplan import (
    ConfigError,
    ContainerPlan,
    PodPlan,
    backoff_seconds,
    plan_pod,
    resolv_conf,
)
from localsvc.node.context import NodeContext
from localsvc.node.execprobe import ContainerExecProbes, node_runner
from localsvc.node.prober import ContainerProber
from localsvc.node.store import PodRecord
from localsvc.node.tasks import spawn
from localsvc.runtime import labels as L
from localsvc.runtime import pods as rt

log = logging.getLogger("localsvc.pod")

# A container that ran this long before exiting resets its back-off, as the kubelet does.
BACKOFF_RESET_SECONDS = 600.0
RESYNC_SECONDS = 5.0


def _iso(ts: float | None) -> str | None:
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _parse_docker_time(text: str | None) -> float | None:
    if not text or text.startswith("0001-"):
        return None
    try:
        from datetime import datetime

        return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return None


@dataclass
class ContainerState:
    """What the worker knows of one container of the pod (the latest attempt)."""

    name: str
    image: str
    init: bool
    attempt: int = 0  # == restartCount
    container_id: str | None = None
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    last_terminated: dict[str, Any] | None = None
    crash_level: int = 0  # back-off step; reset after a long run
    retry_at: float = 0.0  # when a waiting container may be (re)started
    ready: bool = False
    probed: bool = False  # has a readiness or startup probe: ready only once it passes
    probe_ready: bool = False
    probe_message: str = ""  # why the readiness probe last failed, shown in the Ready condition

    def k8s(self) -> dict[str, Any]:
        if self.state == "running":
            state: dict[str, Any] = {"running": {"startedAt": _iso(self.started_at)}}
        elif self.state == "terminated":
            state = {
                "terminated": {
                    "exitCode": self.exit_code,
                    "reason": self.reason,
                    "startedAt": _iso(self.started_at),
                    "finishedAt": _iso(self.finished_at),
                    "containerID": f"docker://{self.container_id}" if self.container_id else None,
                }
            }
        else:
            state = {"waiting": {"reason": self.reason, "message": self.message or None}}
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.state == "running",
            "restartCount": self.attempt,
            "state": state,
            "lastState": {"terminated": self.last_terminated} if self.last_terminated else {},
        }
        if self.container_id:
            out["containerID"] = f"docker://{self.container_id}"
        return out


@dataclass
class PodState:
    phase: str = "Pending"
    reason: str = ""
    message: str = ""
    pod_ip: str = ""
    infra_id: str | None = None
    started_at: float | None = None
    init_done: bool = False
    init: dict[str, ContainerState] = field(default_factory=dict)
    containers: dict[str, ContainerState] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return (
            self.phase == "Running"
            and bool(self.containers)
            and all(c.ready for c in self.containers.values())
        )


class PodWorker:
    def __init__(
        self,
        ctx: NodeContext,
        record: PodRecord,
        lookup: Callable[[str, str, str], dict[str, Any] | None],
        on_change: Callable[[], None],
        service_env: Callable[[str], dict[str, str]] = lambda namespace: {},
        dns_ip: str = "",
    ):
        self.ctx = ctx
        self.record = record
        self.service_env = service_env
        self.dns_ip = dns_ip
        self.lookup = lookup  # (kind, namespace, name) -> object, for ConfigMaps and Secrets
        self.on_change = on_change
        self.state = PodState()
        self.ref = rt.PodRef(
            env=ctx.config.env,
            namespace=record.namespace,
            name=record.name,
            uid=record.uid,
            network=ctx.config.network,
        )
        spec = record.obj.get("spec") or {}
        for c in spec.get("initContainers") or []:
            self.state.init[c["name"]] = ContainerState(c["name"], c["image"], init=True)
        self.specs: dict[str, dict[str, Any]] = {}
        for c in spec.get("containers") or []:
            state = ContainerState(c["name"], c["image"], init=False)
            state.probed = bool(c.get("readinessProbe") or c.get("startupProbe"))
            self.state.containers[c["name"]] = state
            self.specs[c["name"]] = c
        self._probers: dict[str, tuple[str, asyncio.Task[Any]]] = {}
        self._wake = asyncio.Event()
        self._stop_grace: int | None = None
        self.deleting_since: float | None = None
        self.done = asyncio.Event()
        self.adopted = asyncio.Event()  # set once existing containers (if any) were looked at

    # ---- control from the controller -------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self, grace: int | None = None) -> None:
        if self._stop_grace is None:
            spec = self.record.obj.get("spec") or {}
            self._stop_grace = int(
                grace if grace is not None else spec.get("terminationGracePeriodSeconds", 30)
            )
            self.deleting_since = time.time()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop_grace is not None

    # ---- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stopped. Cancellation (the node process ending) leaves the containers
        running for the next node process to adopt; only stop() removes them."""
        try:
            await self._adopt()
        finally:
            self.adopted.set()
        while not self.stopping:
            before = self._fingerprint()
            try:
                await self._step()
            except docker.errors.APIError as err:
                log.warning("pod %s/%s: docker error: %s", self.ref.namespace, self.ref.name, err)
            except Exception:  # keep the pod's loop alive whatever one step hit
                log.exception("pod %s/%s: step failed", self.ref.namespace, self.ref.name)
            if self._fingerprint() != before:
                self.on_change()
            await self._sleep()
        await self._teardown()
        self.done.set()
        self.on_change()

    async def _sleep(self) -> None:
        now = time.time()
        waits = [
            c.retry_at - now
            for c in [*self.state.init.values(), *self.state.containers.values()]
            if c.state == "waiting" and c.retry_at > now
        ]
        timeout = min([RESYNC_SECONDS, *waits]) if waits else RESYNC_SECONDS
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, timeout))
        except TimeoutError:
            pass
        self._wake.clear()

    def _fingerprint(self) -> tuple[Any, ...]:
        s = self.state
        return (
            s.phase,
            s.pod_ip,
            s.reason,
            tuple(
                (c.state, c.reason, c.attempt, c.ready, c.container_id)
                for c in [*s.init.values(), *s.containers.values()]
            ),
        )

    async def _teardown(self) -> None:
        for _, task in self._probers.values():
            task.cancel()
        self._probers.clear()
        grace = self._stop_grace if self._stop_grace is not None else 0
        containers = await asyncio.to_thread(
            rt.find_pod_containers, self.ctx.docker, self.ref.env, self.ref.uid
        )
        await asyncio.to_thread(rt.remove_containers, containers, grace)
        await asyncio.to_thread(rt.remove_volumes, self.ctx.docker, self.ref.env, self.ref.uid)

    # ---- adoption ---------------------------------------------------------------------------

    async def _adopt(self) -> None:
        """Take over containers a previous node process created (same pod uid)."""
        found = await asyncio.to_thread(
            rt.find_pod_containers, self.ctx.docker, self.ref.env, self.ref.uid
        )
        if not found:
            return
        infra = [c for c in found if c.labels.get(L.ROLE) == L.ROLE_POD_INFRA]
        if not infra or infra[0].status != "running":
            # The sandbox is gone: like the kubelet, start the pod again, counting restarts.
            for c in found:
                name = c.labels.get(L.CONTAINER)
                target = self.state.containers.get(name or "") or self.state.init.get(name or "")
                if target:
                    target.attempt = max(target.attempt, int(c.labels.get(L.ATTEMPT, "0")) + 1)
            await asyncio.to_thread(rt.remove_containers, found, 0)
            return
        self.state.infra_id = infra[0].id
        self.state.pod_ip = rt.pod_ip(infra[0], self.ref.network)
        self.state.started_at = _parse_docker_time(infra[0].attrs["State"].get("StartedAt"))
        latest: dict[str, Any] = {}
        for c in found:
            if c.labels.get(L.ROLE) != L.ROLE_POD_CONTAINER:
                continue
            name = c.labels.get(L.CONTAINER, "")
            if name not in latest or int(c.labels.get(L.ATTEMPT, "0")) > int(
                latest[name].labels.get(L.ATTEMPT, "0")
            ):
                latest[name] = c
        app_found = any(n in self.state.containers for n in latest)
        for name, c in latest.items():
            target = self.state.containers.get(name) or self.state.init.get(name)
            if target is None:
                continue
            target.attempt = int(c.labels.get(L.ATTEMPT, "0"))
            self._observe(target, c)
        if app_found or not self.state.init:
            self.state.init_done = True
        log.info("pod %s/%s: adopted %d containers", self.ref.namespace, self.ref.name, len(found))

    # ---- one step of reconciliation ---------------------------------------------------------

    def _plan(self) -> PodPlan | None:
        try:
            plan = plan_pod(
                self.record.obj,
                configmaps=lambda ns, n: self.lookup("ConfigMap", ns, n),
                secrets=lambda ns, n: self.lookup("Secret", ns, n),
                pod_ip=self.state.pod_ip,
                node_ip=self.ctx.config.node_ip,
                service_env=self.service_env(self.ref.namespace),
            )
        except ConfigError as err:
            for c in [*self.state.init.values(), *self.state.containers.values()]:
                if c.state == "waiting":
                    c.reason, c.message = "CreateContainerConfigError", str(err)
            return None
        return plan

    async def _step(self) -> None:
        if self.state.phase in ("Succeeded", "Failed"):
            return
        plan = self._plan()
        if plan is None:
            return
        if self.state.infra_id is None:
            await self._create_sandbox(plan)
            if self.state.infra_id is None:
                return
            plan = self._plan()  # again: env vars may use status.podIP, known only now
            if plan is None:
                return
        else:
            infra_ok = await asyncio.to_thread(self._infra_running)
            if not infra_ok:
                await self._restart_sandbox()
                return
        if not self.state.init_done:
            await self._run_init(plan)
            if not self.state.init_done:
                return
        await self._sync_containers(plan)

    def _infra_running(self) -> bool:
        try:
            c = self.ctx.docker.containers.get(self.state.infra_id)
        except docker.errors.NotFound:
            return False
        return bool(c.status == "running")

    async def _restart_sandbox(self) -> None:
        log.info("pod %s/%s: infra container gone, recreating pod", self.ref.namespace, self.ref.name)
        found = await asyncio.to_thread(
            rt.find_pod_containers, self.ctx.docker, self.ref.env, self.ref.uid
        )
        await asyncio.to_thread(rt.remove_containers, found, 0)
        self.state.infra_id = None
        self.state.pod_ip = ""
        self.state.init_done = not self.state.init
        for c in [*self.state.init.values(), *self.state.containers.values()]:
            if c.container_id:
                c.attempt += 1
            c.container_id, c.state, c.reason, c.ready = None, "waiting", "ContainerCreating", False
        self.state.phase = "Pending"
        self._wake.set()

    async def _create_sandbox(self, plan: PodPlan) -> None:
        try:
            await asyncio.to_thread(rt.create_volumes, self.ctx.docker, self.ref, plan)
            resolv = resolv_conf(self.record.obj, self.dns_ip, self.ctx.config.cluster_domain)
            infra = await asyncio.to_thread(
                rt.create_infra, self.ctx.docker, self.ref, plan, self.ctx.config.image, resolv
            )
        except docker.errors.APIError as err:
            self.state.reason, self.state.message = "FailedCreatePodSandBox", str(err)
            log.warning("pod %s/%s: sandbox: %s", self.ref.namespace, self.ref.name, err)
            return
        self.state.infra_id = infra.id
        self.state.pod_ip = rt.pod_ip(infra, self.ref.network)
        self.state.started_at = time.time()
        self.state.reason = self.state.message = ""
        if not self.state.init:
            self.state.init_done = True

    async def _ensure_image(self, c: ContainerState, plan: ContainerPlan) -> bool:
        try:
            await asyncio.to_thread(rt.ensure_image, self.ctx.docker, plan.image, plan.pull_policy)
            return True
        except rt.ImageMissing as err:
            c.crash_level += 1
            c.state = "waiting"
            c.reason = "ErrImagePull" if c.crash_level == 1 else "ImagePullBackOff"
            c.message = str(err)
            c.retry_at = time.time() + backoff_seconds(c.crash_level)
            return False

    async def _start(self, c: ContainerState, plan: ContainerPlan, grace: int) -> None:
        if c.retry_at > time.time():
            return
        if not await self._ensure_image(c, plan):
            return
        assert self.state.infra_id is not None
        previous = c.container_id
        attempt = c.attempt + (1 if previous else 0)
        try:
            container = await asyncio.to_thread(
                rt.create_container, self.ctx.docker, self.ref, plan, self.state.infra_id,
                attempt, grace,
            )
            await asyncio.to_thread(container.start)
        except docker.errors.APIError as err:
            c.state, c.reason, c.message = "waiting", "CreateContainerError", str(err)
            c.crash_level += 1
            c.retry_at = time.time() + backoff_seconds(c.crash_level)
            return
        c.attempt = attempt
        c.container_id = container.id
        c.state, c.reason, c.message = "running", "", ""
        c.started_at = time.time()
        if previous:
            await asyncio.to_thread(self._remove_older_than, c.name, attempt - 1)

    def _remove_older_than(self, name: str, keep_attempt: int) -> None:
        """Keep the latest exited container (for `logs --previous`), remove older ones."""
        for container in rt.find_pod_containers(self.ctx.docker, self.ref.env, self.ref.uid):
            if container.labels.get(L.CONTAINER) != name:
                continue
            if int(container.labels.get(L.ATTEMPT, "0")) < keep_attempt:
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    pass

    def _observe(self, c: ContainerState, container: Any) -> None:
        """Update `c` from a Docker container's inspect data."""
        c.container_id = container.id
        st = container.attrs["State"]
        c.started_at = _parse_docker_time(st.get("StartedAt"))
        if st.get("Running"):
            c.state, c.reason, c.message = "running", "", ""
            return
        if st.get("Status") == "created":
            c.state, c.reason = "waiting", "ContainerCreating"
            return
        c.state = "terminated"
        c.exit_code = int(st.get("ExitCode", 0))
        c.finished_at = _parse_docker_time(st.get("FinishedAt")) or time.time()
        c.reason = "OOMKilled" if st.get("OOMKilled") else (
            "Completed" if c.exit_code == 0 else "Error"
        )

    def _inspect(self, container_id: str) -> Any | None:
        try:
            return self.ctx.docker.containers.get(container_id)
        except docker.errors.NotFound:
            return None

    async def _run_init(self, plan: PodPlan) -> None:
        """Init containers one after another, each to success, before any app container."""
        for init_plan in plan.init_containers:
            c = self.state.init[init_plan.name]
            if c.state == "terminated" and c.exit_code == 0:
                continue
            if c.state == "running" and c.container_id:
                container = self._inspect(c.container_id)
                if container is None:
                    c.state, c.exit_code = "terminated", 137
                else:
                    await asyncio.to_thread(container.wait)
                    await asyncio.to_thread(container.reload)
                    self._observe(c, container)
            if c.state == "terminated" and c.exit_code == 0:
                continue
            if c.state == "terminated":
                if plan.restart_policy == "Never":
                    self.state.phase, self.state.reason = "Failed", "InitContainerFailed"
                    return
                self._schedule_restart(c)
                return
            await self._start(c, init_plan, plan.grace_seconds)
            if c.state == "running":
                self._wake.set()
            return
        self.state.init_done = True

    def _schedule_restart(self, c: ContainerState) -> None:
        ran = (c.finished_at or 0) - (c.started_at or 0)
        if ran >= BACKOFF_RESET_SECONDS:
            c.crash_level = 0
        c.last_terminated = {
            "exitCode": c.exit_code,
            "reason": c.reason,
            "startedAt": _iso(c.started_at),
            "finishedAt": _iso(c.finished_at),
            "containerID": f"docker://{c.container_id}" if c.container_id else None,
        }
        delay = backoff_seconds(c.crash_level)
        c.crash_level += 1
        c.state = "waiting"
        c.reason = "CrashLoopBackOff" if delay > 0 else "ContainerCreating"
        c.message = (
            f"back-off {int(delay)}s restarting failed container={c.name} pod={self.ref.name}"
            if delay > 0
            else ""
        )
        c.retry_at = time.time() + delay

    async def _sync_containers(self, plan: PodPlan) -> None:
        for cplan in plan.containers:
            c = self.state.containers[cplan.name]
            if c.state == "running" and c.container_id:
                container = await asyncio.to_thread(self._inspect, c.container_id)
                if container is None:  # removed behind our back: as if killed
                    c.state, c.exit_code, c.reason = "terminated", 137, "Error"
                    c.finished_at = time.time()
                else:
                    self._observe(c, container)
            if c.state == "terminated":
                restart = plan.restart_policy == "Always" or (
                    plan.restart_policy == "OnFailure" and c.exit_code != 0
                )
                if restart:
                    log.info(
                        "pod %s/%s: container %s exited with %s; restarting",
                        self.ref.namespace, self.ref.name, c.name, c.exit_code,
                    )
                    self._schedule_restart(c)
            if c.state == "waiting":
                await self._start(c, cplan, plan.grace_seconds)
            self._ensure_prober(c, plan.grace_seconds)
            c.ready = c.state == "running" and (c.probe_ready or not c.probed)
        self._update_phase(plan)

    # ---- probes -------------------------------------------------------------------------------

    def _ensure_prober(self, c: ContainerState, grace: int) -> None:
        """One prober per running container instance; a restarted container gets a new one."""
        spec = self.specs[c.name]
        if not any(spec.get(k) for k in ("readinessProbe", "livenessProbe", "startupProbe")):
            return
        current = self._probers.get(c.name)
        running_id = c.container_id if c.state == "running" else None
        if current and current[0] == running_id:
            return
        if current:
            current[1].cancel()
            del self._probers[c.name]
        c.probe_ready, c.probe_message = False, ""
        if running_id is None or not self.state.pod_ip:
            return
        container_id = running_id

        def on_ready(ready: bool, message: str) -> None:
            if c.container_id == container_id and (c.probe_ready, c.probe_message) != (
                ready, message
            ):
                c.probe_ready = ready
                c.probe_message = message
                c.ready = c.state == "running" and ready
                self.on_change()

        def on_kill(reason: str) -> None:
            spawn(self._kill(container_id, reason, grace), name=f"kill {self.ref.name}/{c.name}")

        # Exec probes run on the node's exec-probe threads, never on the default executor
        # that the pod lifecycle uses, with their output capped and their commands ended.
        exec_probes = ContainerExecProbes(self.ctx.docker.api, container_id)

        async def exec_fn(command: list[str], timeout: float) -> tuple[bool, str]:
            outcome = await node_runner().run(exec_probes, command, timeout)
            return outcome.passed, outcome.message(command, timeout)

        prober = ContainerProber(spec, self.state.pod_ip, c.started_at or time.time(), exec_fn,
                                 on_ready, on_kill)
        task = spawn(prober.run(), name=f"probe {self.ref.namespace}/{self.ref.name}/{c.name}")
        self._probers[c.name] = (container_id, task)

    async def _kill(self, container_id: str, reason: str, grace: int) -> None:
        log.info("pod %s/%s: %s; restarting the container", self.ref.namespace, self.ref.name, reason)
        container = await asyncio.to_thread(self._inspect, container_id)
        if container is not None:
            await asyncio.to_thread(container.stop, timeout=grace)
        self.wake()

    def _update_phase(self, plan: PodPlan) -> None:
        states = list(self.state.containers.values())
        if all(c.state == "terminated" for c in states):
            self.state.phase = "Succeeded" if all(c.exit_code == 0 for c in states) else "Failed"
        elif any(c.container_id for c in states):
            self.state.phase = "Running"
        else:
            self.state.phase = "Pending"

    # ---- status as Kubernetes shows it ------------------------------------------------------

    def k8s_status(self) -> dict[str, Any]:
        s = self.state
        ready = s.ready and not self.stopping
        initialized = s.init_done
        scheduled_at = _iso(self.record.created)
        not_ready = not_ready_reason(s) if not ready else {}
        conditions = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": scheduled_at},
            {"type": "Initialized", "status": "True" if initialized else "False"},
            {"type": "ContainersReady", "status": "True" if ready else "False", **not_ready},
            {"type": "Ready", "status": "True" if ready else "False", **not_ready},
        ]
        status: dict[str, Any] = {
            "phase": s.phase,
            "conditions": conditions,
            "hostIP": self.ctx.config.node_ip,
            "podIP": s.pod_ip or None,
            "podIPs": [{"ip": s.pod_ip}] if s.pod_ip else [],
            "startTime": _iso(s.started_at),
            "containerStatuses": [c.k8s() for c in s.containers.values()],
        }
        if s.init:
            status["initContainerStatuses"] = [c.k8s() for c in s.init.values()]
        if s.reason:
            status["reason"], status["message"] = s.reason, s.message
        return status


def not_ready_reason(s: PodState) -> dict[str, str]:
    """Reason and message of a not-ready pod's Ready condition, as the kubelet words them, with
    the failing readiness probes' messages added (localsvc has no Events to carry them)."""
    unready = [c for c in s.containers.values() if not c.ready]
    if not unready:
        return {}
    message = f"containers with unready status: [{' '.join(c.name for c in unready)}]"
    probes = [f"{c.name}: {c.probe_message}" for c in unready if c.probe_message]
    if probes:
        message += "; " + "; ".join(probes)
    return {"reason": "ContainersNotReady", "message": message}
