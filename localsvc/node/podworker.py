"""One pod's lifecycle, as the kubelet runs it: a thin executor of localsvc.model.kubelet.

A PodWorker is an asyncio task per pod. Docker events and the controller only *wake* it; each
step then observes the pod's sandbox and running containers (Docker inspect, in threads), asks
the pure `kubelet.decide` what to do (start, back off, restart the sandbox, mark the pod done)
and performs those actions; every Docker call runs in a thread, never on the event loop. The
worker never touches another pod or the desired state. Adoption of a previous node process's
containers is decided by localsvc.model.kubelet_adopt and performed here (the labels it reads
are in localsvc.node.podstate); its probers are in localsvc.node.podprobes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import docker.errors

from localsvc.model import kubelet
from localsvc.model.kubelet import KubeletSpec
from localsvc.model.incluster import ApiAccess
from localsvc.model.kubelet_adopt import DiscardLeftovers, apply_adoption, decide_adoption
from localsvc.model.podplan import ConfigError, ContainerPlan, PodPlan, plan_pod, resolv_conf
from localsvc.model.podvolumes import no_claims
from localsvc.node.context import NodeContext
from localsvc.node.events import EventRecorder
from localsvc.node.podevents import PodEvents
from localsvc.node.podearly import EarlyContainers
from localsvc.node.podimages import ensure_image
from localsvc.node.podstate import (
    ContainerState,
    PodState,
    fingerprint,
    leftover_of,
    observe,
    pod_status,
)
from localsvc.node.podprobes import PodProbes
from localsvc.node.podvolumes import PodVolumes
from localsvc.node.store import PodRecord
from localsvc.tasks import spawn
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
        recorder: EventRecorder | None = None,
        api_access: ApiAccess | None = None,  # the node's one (node/incluster.py); None: none
        claim_volume: Callable[[str, str], str] = no_claims,  # node/claimsync.py's
    ):
        self.ctx = ctx
        self.api_access = api_access
        self.record = record
        self.service_env = service_env
        self.dns_ip = dns_ip
        self.lookup = lookup  # (kind, namespace, name) -> object, for ConfigMaps and Secrets
        self.claim_volume = claim_volume  # a claim's bound volume; ConfigError: the pod waits
        self.claim_volumes: dict[str, str] = {}  # claim -> the volume it got, kept for its life
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
        self.events = PodEvents(recorder, record.namespace, record.name, record.uid)
        self.volumes = PodVolumes(ctx.docker, self.ref)
        self.early = EarlyContainers(ctx.docker, self.ref)  # made as the sandbox starts
        self.probes = PodProbes(ctx.docker.api, f"{record.namespace}/{record.name}",
                                on_change, self.wake, self.events.unhealthy)
        self._wake = asyncio.Event()
        self._stop_grace: int | None = None
        self.deleting_since: float | None = None
        self.done = asyncio.Event()
        self.adopted = asyncio.Event()  # set once existing containers (if any) were looked at

    # ---- control from the controller -------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self, grace: int | None = None) -> None:
        """Stop the pod within `grace` seconds (None: its terminationGracePeriodSeconds). A
        shorter grace asked for later wins, as a force delete of a terminating pod."""
        if self._stop_grace is None:
            spec = self.record.obj.get("spec") or {}
            self._stop_grace = int(
                grace if grace is not None else spec.get("terminationGracePeriodSeconds", 30)
            )
            self.deleting_since = time.time()
        elif grace is not None and grace < self._stop_grace:
            self._stop_grace = grace
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop_grace is not None

    @property
    def deleted_at_once(self) -> bool:
        """A grace period of 0 (`kubectl delete --grace-period=0 --force`): the API server
        removes the object at once; its containers go in the background."""
        return self._stop_grace == 0

    # ---- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stopped. Cancellation (the node process ending) leaves the containers
        running for the next node process to adopt; only stop() removes them."""
        found = True
        try:
            found = await self._adopt()
        finally:
            self.adopted.set()
        if not found and not self.stopping:
            # Once per pod: containers of it (even with the sandbox gone) mean a previous node
            # process started it, and the scheduler had assigned it then.
            self.events.scheduled()
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
        for c in self.state.containers.values():
            if c.state == "running":
                self.events.killing(c.name)
        grace = self._stop_grace if self._stop_grace is not None else 0
        containers = await asyncio.to_thread(rt.find_pod_containers, self.ctx.docker,
                                             self.ref.env, self.ref.uid)
        await asyncio.to_thread(rt.remove_containers, containers, grace)
        await asyncio.to_thread(rt.remove_volumes, self.ctx.docker, self.ref.env, self.ref.uid)

    # ---- adoption ---------------------------------------------------------------------------

    async def _adopt(self) -> bool:
        """Take over containers a previous node process created (same pod uid): performs what
        model.kubelet_adopt decides. Whether there were any."""
        found = await asyncio.to_thread(rt.find_pod_containers, self.ctx.docker, self.ref.env,
                                        self.ref.uid)
        leftovers = [leftover for c in found
                     if (leftover := leftover_of(c, self.ref.network)) is not None]
        actions = decide_adoption(self.state, leftovers)
        for action in actions:
            if isinstance(action, DiscardLeftovers):
                # The sandbox is gone: like the kubelet, start the pod again, counting restarts.
                await asyncio.to_thread(rt.remove_containers, found, 0)
            apply_adoption(action, self.state, time.time())
        if actions and self.state.infra_id:
            log.info("pod %s/%s: adopted %d containers", self.ref.namespace, self.ref.name,
                     len(found))
        return bool(found)

    # ---- one step: observe, decide, act --------------------------------------------------

    def _plan(self) -> tuple[PodPlan | None, str]:
        """The pod's plan, or why it cannot be made (a missing ConfigMap key...)."""
        try:
            plan = plan_pod(
                self.record.obj,
                configmaps=lambda ns, n: self.lookup("ConfigMap", ns, n),
                secrets=lambda ns, n: self.lookup("Secret", ns, n),
                pod_ip=self.state.pod_ip,
                node_ip=self.ctx.config.node_ip,
                service_env=self.service_env(self.ref.namespace),
                api_access=self.api_access,
                claims=self._claim_volume,
            )
        except ConfigError as err:
            return None, str(err)
        return plan, ""

    def _claim_volume(self, namespace: str, claim: str) -> str:
        """Like a scheduled pod's, fixed once got: a claim deleted meanwhile stays its own."""
        if claim not in self.claim_volumes:
            self.claim_volumes[claim] = self.claim_volume(namespace, claim)
        return self.claim_volumes[claim]

    def _spec(self, plan: PodPlan | None, error: str) -> KubeletSpec:
        if plan is None:
            return KubeletSpec("Always", tuple(self.state.init), tuple(self.state.containers),
                               config_error=error)
        return KubeletSpec(plan.restart_policy, tuple(c.name for c in plan.init_containers),
                           tuple(c.name for c in plan.containers))

    async def _step(self) -> None:
        if kubelet.finished(self.state):
            return
        # Twice at most: a new sandbox gives the pod its IP, which env vars may use
        # (status.podIP), so the plan is made again before the containers start.
        fresh = False  # the sandbox was made and started just now: no need to look again
        for _ in range(2):
            plan, error = self._plan()
            infra_running = fresh or await self._observe()
            if plan is not None and infra_running and self.state.infra_id:
                await self.volumes.sync(self.state.infra_id, plan)  # changed ConfigMaps...
            actions = kubelet.decide(self._spec(plan, error), self.state, infra_running,
                                     time.time())
            for action in actions:
                await self._perform(action, plan)
            if not (actions == [kubelet.CreateSandbox()] and self.state.infra_id):
                return
            fresh = True

    async def _observe(self) -> bool:
        """Read the sandbox and the running containers from Docker (in threads); whether the
        sandbox is running."""
        if self.state.infra_id is None:
            return False
        if not await asyncio.to_thread(self._infra_running):
            return False
        for c in [*self.state.init.values(), *self.state.containers.values()]:
            if c.state != "running" or not c.container_id:
                continue
            container = await asyncio.to_thread(self._inspect, c.container_id)
            if container is None:
                kubelet.container_vanished(c, time.time())
            else:
                observe(c, container.id, container.attrs["State"], time.time())
        return True

    async def _perform(self, action: kubelet.Action, plan: PodPlan | None) -> None:
        match action:
            case kubelet.CreateSandbox():
                assert plan is not None
                await self._create_sandbox(plan)
            case kubelet.RecreateSandbox():
                await self._restart_sandbox()
            case kubelet.Start(name, init):
                assert plan is not None
                cplan = next(c for c in [*plan.init_containers, *plan.containers]
                             if c.name == name)
                target = (self.state.init if init else self.state.containers)[name]
                await self._start(target, cplan, plan)
            case kubelet.ConfigFailed(message):
                for c in [*self.state.init.values(), *self.state.containers.values()]:
                    if c.state == "waiting" and c.message != message:  # once per new reason
                        self.events.failed(c.name, c.init, message)
                kubelet.apply(action, self.state, self.ref.name, time.time())
            case kubelet.SyncProbes():
                for c in self.state.containers.values():
                    self.probes.ensure(c, self.specs[c.name], self.state.pod_ip)
            case kubelet.Kill(name, reason, probe):
                # A task of its own: stopping waits up to the grace period, the pod's other
                # containers meanwhile go on being looked after.
                c = self.state.containers[name]
                assert c.container_id is not None and plan is not None
                self.events.killing(name, probe)
                spawn(self._kill(c.container_id, reason, plan.grace_seconds),
                      name=f"kill {self.ref.namespace}/{self.ref.name}/{name}")
                kubelet.apply(action, self.state, self.ref.name, time.time())
            case kubelet.BackOff(name, init) if not init:
                c = self.state.containers[name]
                log.info("pod %s/%s: container %s exited with %s; restarting",
                         self.ref.namespace, self.ref.name, name, c.exit_code)
                kubelet.apply(action, self.state, self.ref.name, time.time())
                if c.retry_at > time.time():  # waiting out its back-off: CrashLoopBackOff
                    self.events.back_off(name, init)
            case _:
                kubelet.apply(action, self.state, self.ref.name, time.time())

    def _infra_running(self) -> bool:
        try:
            c = self.ctx.docker.containers.get(self.state.infra_id)
        except docker.errors.NotFound:
            return False
        return bool(c.status == "running")

    async def _restart_sandbox(self) -> None:
        log.info("pod %s/%s: infra container gone, recreating pod", self.ref.namespace,
                 self.ref.name)
        found = await asyncio.to_thread(rt.find_pod_containers, self.ctx.docker, self.ref.env,
                                        self.ref.uid)
        await asyncio.to_thread(rt.remove_containers, found, 0)
        kubelet.sandbox_lost(self.state)
        self.volumes.forget()
        self._wake.set()

    async def _create_sandbox(self, plan: PodPlan) -> None:
        resolv = resolv_conf(self.record.obj, self.dns_ip, self.ctx.config.cluster_domain)
        await self.early.discard()  # (any made for a sandbox since lost)
        early = self.early.creator(kubelet.created_with_sandbox(self._spec(plan, ""),
                                                                self.state), plan, self.record.obj)
        try:
            infra = await self.volumes.create_sandbox(plan, self.ctx.config.image, resolv, early)
        except rt.VolumeError as err:  # a hostPath failed its check: the containers wait
            await self.early.discard()
            if any(c.message != str(err) for c in self.state.containers.values()):
                self.events.failed_mount(str(err))
            kubelet.config_failed(self.state, str(err))
            return
        except docker.errors.APIError as err:
            await self.early.discard()
            kubelet.sandbox_failed(self.state, str(err))
            log.warning("pod %s/%s: sandbox: %s", self.ref.namespace, self.ref.name, err)
            return
        kubelet.sandbox_created(self.state, infra.id, rt.pod_ip(infra, self.ref.network),
                                time.time())

    async def _start(self, c: ContainerState, plan: ContainerPlan, pod_plan: PodPlan) -> None:
        if not await ensure_image(self.ctx.docker, c, plan, self.events):
            return
        assert self.state.infra_id is not None
        previous = c.container_id
        attempt = kubelet.next_attempt(c)
        try:
            if plan.config_error:  # e.g. its subPathExpr names an unset variable
                raise rt.VolumeError("", plan.config_error)
            infra_id = self.state.infra_id
            container = await self.early.take(plan, attempt, infra_id) or await asyncio.to_thread(
                rt.create_container, self.ctx.docker, self.ref, plan, infra_id, attempt,
                pod_plan.grace_seconds, pod_plan)
            await asyncio.to_thread(container.start)
        except rt.VolumeError as err:  # a subPath that cannot be made or prepared
            kubelet.create_failed(c, str(err), time.time(), "CreateContainerConfigError")
            self.events.failed(c.name, c.init, str(err))
            return
        except docker.errors.APIError as err:
            kubelet.create_failed(c, str(err), time.time())
            self.events.failed(c.name, c.init, str(err.explanation or err))
            return
        self.events.created(c.name, c.init)
        self.events.started(c.name, c.init)
        kubelet.started(c, container.id, attempt, time.time())
        if previous:
            await asyncio.to_thread(rt.remove_older_than, self.ctx.docker, self.ref, c.name,
                                    attempt - 1)

    def _inspect(self, container_id: str) -> Any | None:
        try:
            return self.ctx.docker.containers.get(container_id)
        except docker.errors.NotFound:
            return None

    async def _kill(self, container_id: str, reason: str, grace: int) -> None:
        log.info("pod %s/%s: %s; restarting the container", self.ref.namespace, self.ref.name,
                 reason)
        container = await asyncio.to_thread(self._inspect, container_id)
        if container is not None:
            await asyncio.to_thread(container.stop, timeout=grace)
        self.wake()

    # ---- status as Kubernetes shows it ------------------------------------------------------

    def k8s_status(self) -> dict[str, Any]:
        return pod_status(self.state, self.stopping, self.record.created, self.ctx.config.node_ip,
                          time.time())
