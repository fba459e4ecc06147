"""One pod's lifecycle, as the kubelet runs it: create or adopt, restart with back-off, stop.

A PodWorker is an asyncio task per pod. Docker events and the controller only *wake* it; it then
looks at its containers and decides (restart now, wait for back-off, mark the pod done). All
Docker calls run in threads. The worker never touches another pod or the desired state.

This module is the Docker side; the state it keeps and the pure decisions on it (restart
back-off, phase, status) are in localsvc.node.podstate, its probers in localsvc.node.podprobes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
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
from localsvc.node.podstate import (
    ContainerState,
    PodState,
    count_lost_attempts,
    fingerprint,
    latest_attempts,
    observe,
    parse_docker_time,
    phase_of,
    pod_status,
    schedule_restart,
)
from localsvc.node.podprobes import PodProbes
from localsvc.node.store import PodRecord
from localsvc.node.tasks import spawn
from localsvc.runtime import labels as L
from localsvc.runtime import pods as rt

log = logging.getLogger("localsvc.pod")

RESYNC_SECONDS = 5.0


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
        self._grace = 30  # the pod's grace period, as the latest plan says
        self.probes = PodProbes(ctx.docker.api, f"{record.namespace}/{record.name}",
                                on_change, lambda cid, reason: self._kill(cid, reason, self._grace))
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
            before = fingerprint(self.state)
            try:
                await self._step()
            except docker.errors.APIError as err:
                log.warning("pod %s/%s: docker error: %s", self.ref.namespace, self.ref.name, err)
            except Exception:  # keep the pod's loop alive whatever one step hit
                log.exception("pod %s/%s: step failed", self.ref.namespace, self.ref.name)
            if fingerprint(self.state) != before:
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

    async def _teardown(self) -> None:
        self.probes.cancel_all()
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
            count_lost_attempts(self.state, [c.labels for c in found])
            await asyncio.to_thread(rt.remove_containers, found, 0)
            return
        self.state.infra_id = infra[0].id
        self.state.pod_ip = rt.pod_ip(infra[0], self.ref.network)
        self.state.started_at = parse_docker_time(infra[0].attrs["State"].get("StartedAt"))
        latest = {name: found[i] for name, i in latest_attempts([c.labels for c in found]).items()}
        app_found = any(n in self.state.containers for n in latest)
        for name, c in latest.items():
            target = self.state.containers.get(name) or self.state.init.get(name)
            if target is None:
                continue
            target.attempt = int(c.labels.get(L.ATTEMPT, "0"))
            observe(target, c.id, c.attrs["State"])
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
        log.info("pod %s/%s: infra container gone, recreating pod", self.ref.namespace,
                 self.ref.name)
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
                    observe(c, container.id, container.attrs["State"])
            if c.state == "terminated" and c.exit_code == 0:
                continue
            if c.state == "terminated":
                if plan.restart_policy == "Never":
                    self.state.phase, self.state.reason = "Failed", "InitContainerFailed"
                    return
                schedule_restart(c, self.ref.name)
                return
            await self._start(c, init_plan, plan.grace_seconds)
            if c.state == "running":
                self._wake.set()
            return
        self.state.init_done = True

    async def _sync_containers(self, plan: PodPlan) -> None:
        for cplan in plan.containers:
            c = self.state.containers[cplan.name]
            if c.state == "running" and c.container_id:
                container = await asyncio.to_thread(self._inspect, c.container_id)
                if container is None:  # removed behind our back: as if killed
                    c.state, c.exit_code, c.reason = "terminated", 137, "Error"
                    c.finished_at = time.time()
                else:
                    observe(c, container.id, container.attrs["State"])
            if c.state == "terminated":
                restart = plan.restart_policy == "Always" or (
                    plan.restart_policy == "OnFailure" and c.exit_code != 0
                )
                if restart:
                    log.info(
                        "pod %s/%s: container %s exited with %s; restarting",
                        self.ref.namespace, self.ref.name, c.name, c.exit_code,
                    )
                    schedule_restart(c, self.ref.name)
            if c.state == "waiting":
                await self._start(c, cplan, plan.grace_seconds)
            self._grace = plan.grace_seconds
            self.probes.ensure(c, self.specs[c.name], self.state.pod_ip)
            c.ready = c.state == "running" and (c.probe_ready or not c.probed)
        self.state.phase = phase_of(list(self.state.containers.values()))

    # ---- probes -------------------------------------------------------------------------------

    async def _kill(self, container_id: str, reason: str, grace: int) -> None:
        log.info("pod %s/%s: %s; restarting the container", self.ref.namespace, self.ref.name,
                 reason)
        container = await asyncio.to_thread(self._inspect, container_id)
        if container is not None:
            await asyncio.to_thread(container.stop, timeout=grace)
        self.wake()

    # ---- status as Kubernetes shows it ------------------------------------------------------

    def k8s_status(self) -> dict[str, Any]:
        return pod_status(self.state, self.stopping, self.record.created, self.ctx.config.node_ip)
