"""Desired state against actual state: the node's one sync loop.

Applied objects live in the State (persisted by the Store). `sync()` derives the pods that should
exist (bare Pods, and each workload's pods: Deployments via model.deployments, the other kinds
through their WorkloadStep, node/workloads.py) and keeps one PodWorker per pod; workers do the Docker work. API calls and Docker events only change the desired state or
wake something, then mark the controller dirty; the loop merges bursts into one sync.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from localsvc.errors import NotFound
from localsvc.model.allocation import dns_ip, kubernetes_ip
from localsvc.model.defaults import with_defaults
from localsvc.model.endpoints import PodView, service_env
from localsvc.model.incluster import kubernetes_objects
from localsvc.model.network import plan_for
from localsvc.model.nodeobject import NODE_NAME
from localsvc.model.objects import now_iso
from localsvc.model.snapshot import Snapshot, Unserved
from localsvc.model.storesnapshot import StoreSnapshot
from localsvc.node import services as svc
from localsvc.node import svclb
from localsvc.node.changes import ObjectChanges
from localsvc.node.claimsync import ClaimBinding
from localsvc.node.deploymentsync import DeploymentSync
from localsvc.node.finalizing import Finalizing
from localsvc.node.context import NodeContext
from localsvc.node.dockerevents import start_watching
from localsvc.node.events import EventRecorder
from localsvc.node.serviceevents import ServiceEvents
from localsvc.node.statefulsetsync import StatefulSetSync
from localsvc.node.forwarders import Forwarders
from localsvc.node.garbage import GC_PERIOD, collect_garbage
from localsvc.node.incluster import in_cluster_access
from localsvc.node.ingresssync import IngressSync
from localsvc.node.cronjobsync import CronJobSync
from localsvc.node.daemonsync import DaemonSetSync
from localsvc.node.jobsync import JobSync
from localsvc.node.objectstore import ObjectStore, WatchEvent
from localsvc.node.madeobjects import MadeObjects
from localsvc.node.network import NetworkSync
from localsvc.node.nodestatus import node_status
from localsvc.node.podrecords import bare_pod
from localsvc.node.podworker import PodWorker
from localsvc.node.publish import ObjectPublisher, StorePublishing
from localsvc.node.reconcile import ControllerEvents
from localsvc.node.store import PodRecord, State, Store, key_of
from localsvc.node.subscriber import StoreSubscriber
from localsvc.node.workloads import WorkloadStep, drop_finished, forget_gone, wait_seconds
from localsvc.tasks import spawn
from localsvc.node.views import object_key

log = logging.getLogger("localsvc.controller")
Obj = dict[str, Any]
SYNC_PERIOD = 2.0


def _log_failed_save(future: Future[None]) -> None:
    error = future.exception()
    if error is not None:
        log.error("saving the state failed (the next change tries again): %r", error)


def _microseconds() -> int:
    return time.time_ns() // 1000


class Controller(ClaimBinding, DeploymentSync, StatefulSetSync, ObjectChanges, Forwarders,
                 StorePublishing, Finalizing, MadeObjects, IngressSync, JobSync, DaemonSetSync,
                 CronJobSync):
    # Mixins first whose methods win: ClaimBinding's _publish_storage, DeploymentSync's status.
    def __init__(self, ctx: NodeContext, store: Store, network: NetworkSync | None = None):
        self.ctx = ctx
        self.store = store
        self.state: State = store.load()
        # Objects stored before defaulting (an older node): defaulted once, as on an apply.
        self.state.objects = {key: with_defaults(obj)
                              for key, obj in self.state.objects.items()}
        self.generation = 0  # +1 on every change of the stored objects (see ObjectChanges)
        self.workers: dict[str, PodWorker] = {}  # pod uid -> worker of a desired pod
        self.terminating: dict[str, PodWorker] = {}  # pod uid -> worker stopping its pod
        self.finalizing: dict[str, Obj] = {}  # deleted, served until its pods are gone
        self._dirty = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.network = network
        plan = plan_for(ctx.config.subnet)
        self.cluster_range = str(plan.cluster_ip_range)
        self.gateway = plan.gateway
        self.dns_ip = dns_ip(self.cluster_range)
        self.kubernetes_ip = kubernetes_ip(self.cluster_range)  # the `kubernetes` Service's
        self.started = now_iso()
        self.snapshot = Snapshot(cluster_domain=ctx.config.cluster_domain, dns_ip=self.dns_ip)
        self.svclb_errors: dict[str, str] = {}  # Service key -> why its forwarder is not running
        self.lb_pending: dict[str, str] = {}  # LoadBalancer key -> why it has no ingress
        self.lb_owned: set[str] = set()  # LoadBalancers holding all their host ports
        self._svclb_applied: dict[str, svclb.SvclbSpec] | None = None
        self._svclb_task: asyncio.Task[Any] | None = None
        # What the node stores but cannot serve or run, and why: reported in `status` and on
        # the objects, never raised (a raise here crash-looped the node on its own state).
        self.unserved: list[Unserved] = []  # from the last snapshot build
        self.sync_problems: dict[str, Unserved] = {}  # object key -> why sync skipped it
        self.forwarder_problems: list[Unserved] = []
        self._reported: set[Unserved] = set()
        self.workload_steps: list[WorkloadStep] = []  # each workload mixin's init adds its own
        self.init_deployment_tables()
        self.init_claim_tables()
        self.init_statefulset_tables()
        self.workload_statuses: dict[str, Obj] = {}  # workload key -> status its sync computed
        self.init_job_tables()
        self.init_daemonset_tables()
        self.init_cronjob_tables()
        # The objects as the Kubernetes API serves them, each change a watch event (published
        # after every sync, see node/publish.py).
        self.objects = ObjectStore(self.state.resource_version, version_floor=_microseconds)
        self.objects.add_listener(self._count_version)
        # The API from inside pods: the `kubernetes` Service's objects and one ApiAccess for
        # every pod plan, built once (their inputs never change while the node runs); None
        # without the environment's CA. ServiceAccounts are looked up in the store, where the
        # node publishes each namespace's `default`.
        self.kubernetes_objects = kubernetes_objects(self.kubernetes_ip, ctx.config.node_ip,
                                                     self.started)
        self.api_access = None if ctx.ca_crt is None else in_cluster_access(
            ctx.config.token, self.kubernetes_ip, ctx.ca_crt,
            lambda namespace, name: self.objects.get(key_of("ServiceAccount", namespace, name)))
        # Events live in the store only (not in the state file: see node/events.py).
        self.recorder = EventRecorder(self.objects, NODE_NAME)
        self.service_events = ServiceEvents(self.recorder)
        self._svclb_changes = StoreSubscriber(self.objects, {"Service"})
        if network is not None:  # its DNS and dataplane follow the store's events
            network.subscribe(self.objects, StoreSnapshot(
                ctx.config.cluster_domain, self.dns_ip, ctx.config.node_ip,
                svc.kube_dns_info(self.dns_ip, ctx.config.node_ip)))
        self.publisher = ObjectPublisher(self.objects)
        # The store's Deployment and Pod events say which objects a sync reconciles.
        self.events = ControllerEvents(self.objects)
        self._derived_inputs: Any = None
        self._snapshot_built_from: tuple[Any, ...] | None = None
        self.last_sync_seconds = 0.0
        self._refresh_snapshot()
        self._publish()
        self.objects.compact()  # a watcher from before a restart lists again (410)

    def _count_version(self, event: WatchEvent) -> None:
        self.state.resource_version = event.resource_version  # saved with the next write

    # ---- the loop -----------------------------------------------------------------------------

    async def adopt(self, timeout: float = 20.0) -> None:
        """Start a worker per known pod and wait until each has adopted its running containers,
        so that the API never shows a running pod as ContainerCreating after a node restart."""
        try:
            self.sync()
        except Exception:  # serve the API anyway: it is how the problem gets reported
            log.exception("first sync failed; the sync loop retries")
        waits = [w.adopted.wait() for w in self.workers.values()]
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*waits), timeout)
            except TimeoutError:
                log.warning("adopting pods took longer than %.0f s; serving anyway", timeout)
        self._refresh_snapshot()
        self._publish()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.network is not None:
            spawn(self.network.run(), name="network sync")
        loop = self._loop
        start_watching(self.ctx.config.env,
                       lambda uid: loop.call_soon_threadsafe(self._wake_pod, uid))
        next_gc = 0.0
        while True:
            try:
                self.sync()
                gc_due = time.monotonic() >= next_gc
                self._reconcile_forwarders(force=gc_due)
                self._reconcile_ingress(force=gc_due)
                if gc_due:
                    next_gc = time.monotonic() + GC_PERIOD
                    await collect_garbage(self.ctx.docker, self.ctx.config.env, lambda: {
                        r.uid for r in self.state.pods.values()} | set(self.terminating))
            except Exception:
                log.exception("sync failed; retrying")
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout=wait_seconds(
                    self.workload_steps, SYNC_PERIOD))
            except TimeoutError:
                pass
            self._dirty.clear()
            await asyncio.sleep(0.02)  # merge a burst of changes into one sync

    def mark_dirty(self) -> None:
        self._dirty.set()

    def _wake_pod(self, uid: str) -> None:
        worker = self.workers.get(uid)
        if worker:
            worker.wake()

    # ---- desired pods -------------------------------------------------------------------------

    def lookup(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.state.get(kind, namespace, name)

    def sync(self) -> None:
        started = time.perf_counter()
        try:
            self._sync()
        finally:
            self.last_sync_seconds = time.perf_counter() - started

    def _sync(self) -> None:
        gone_owners = drop_finished(self.terminating)  # woken now
        # A terminating pod's event names its owner too: a Deployment replaces a deleted pod.
        owners = {f"{w.record.namespace}/{w.record.name}": w.record.owner
                  for w in self.terminating.values()}
        owners.update((k, r.owner) for k, r in self.state.pods.items())
        plan = self.events.take(owners, (self.state.allocations.get("restarts") or {}))
        moved = plan.owners | gone_owners
        woken = moved | self.cronjobs_of(moved)  # a Job's events move its CronJob
        changed = False
        desired: set[str] = set()
        # Bare Pods are compared by uid (a dict lookup each): the store holds the pods the
        # controller made, not the applied ones, so an applied Pod is no store event yet.
        for obj in self.state.objects_of("Pod"):
            changed |= self._guarded(obj, self._sync_bare_pod, desired)
        for step in self.workload_steps:  # (a copy of the index: steps store and remove objects)
            for key, obj in list(self.state.objects_by_kind(step.kind).items()):
                if plan.full or key in woken or step.due(key):
                    changed |= self._guarded(obj, step.sync, desired)
            changed |= forget_gone(step, self.workload_statuses, self.state.objects)
        changed |= self.collect_orphans()  # dependents whose owners are gone (madeobjects.py)
        workloads = self.state.objects
        for key, record in self.state.pods.items():
            # The pods of a workload not reconciled now stay as they are while it exists.
            if record.owner is not None and record.owner in workloads:
                desired.add(key)
        for key, record in list(self.state.pods.items()):
            if key not in desired:
                self._retire(key)
                changed = True
        for record in self.state.pods.values():
            if record.uid not in self.workers:
                self._start_worker(record)
        changed |= self._assign_load_balancers() | self._sync_claims()  # (both run)
        self.settle_finalizing()
        self.service_events.report(lambda key: self.state.get("Service", *key.split("/", 1)),
                                   self.lb_pending, self.svclb_errors)
        self.recorder.sweep()
        if changed:  # written in the store's thread, in order; the loop does not wait for it
            self.store.submit(self.state).add_done_callback(_log_failed_save)
        self._refresh_snapshot()
        self._publish()
        if self.events.collect():  # what this sync published is reconciled by the next one
            self.mark_dirty()

    def _guarded(self, obj: Obj, step: Callable[[Obj, set[str]], bool], desired: set[str]) -> bool:
        """step(obj, desired), or, when the stored object cannot be run, a problem for it: its
        pods stay as they are (never retired because their owner is unreadable)."""
        key = object_key(obj)
        try:
            changed = step(obj, desired)
        except Exception as err:
            problem = Unserved(key, f"cannot run this stored object ({err!r}); its pods are "
                                    "left as they are until it is applied again")
            if self.sync_problems.get(key) != problem:
                log.error("%s: %s", key, problem.message)
            self.sync_problems[key] = problem
            namespace = (obj.get("metadata") or {}).get("namespace", "default")
            name = (obj.get("metadata") or {}).get("name")
            desired.update(k for k, r in self.state.pods.items()
                           if r.owner == key or k == f"{namespace}/{name}")
            return False
        self.sync_problems.pop(key, None)
        return changed

    def problems(self) -> list[Unserved]:
        """Everything stored that is not served or run, and why (each once)."""
        found = [*self.unserved, *self.sync_problems.values(), *self.forwarder_problems]
        if self.network is not None:
            found += self.network.problems()
        return list(dict.fromkeys(found))

    # ---- services -----------------------------------------------------------------------------

    def _pod_views(self) -> list[PodView]:
        views = []
        for record in self.state.pods.values():
            worker = self.workers.get(record.uid)
            if worker is not None:
                views.append(PodView(record.obj, worker.state.pod_ip, worker.state.ready))
        for worker in self.terminating.values():
            if not worker.done.is_set():
                views.append(PodView(worker.record.obj, worker.state.pod_ip, False, terminating=True))
        return views

    def _snapshot_inputs(self, views: list[PodView]) -> tuple[Any, ...]:
        """What the snapshot is made of, cheap to compare: the stored objects and their
        allocations change together with `generation`; a pod counts by its object, IP,
        readiness and termination."""
        return (self.generation, id(self.allocations), id(self.node_ports),
                tuple((id(v.obj), v.ip, v.ready, v.terminating) for v in views))

    def _refresh_snapshot(self) -> None:
        """Rebuild the controller's network snapshot (what the Endpoints and EndpointSlices it
        publishes are derived from, as the endpoints controller derives them from Services and
        pods) when one of its inputs changed; a sync that changed none rebuilds nothing. What
        cannot be served is left out of it and reported (logged once per problem)."""
        views = self._pod_views()
        inputs = self._snapshot_inputs(views)
        if inputs == self._snapshot_built_from and self.snapshot.version:
            return
        try:
            fresh, self.unserved = svc.checked_snapshot(
                self.state.objects, self.allocations, views,
                self.ctx.config.cluster_domain, self.dns_ip, self.ctx.config.node_ip,
                self.node_ports)
        except Exception:  # a bug, not an object: keep serving the previous snapshot
            log.exception("building the network snapshot failed; the previous one is served")
            return
        self._snapshot_built_from = inputs
        for problem in self.unserved:
            if problem not in self._reported:
                log.error("not served: %s: %s", problem.object, problem.message)
        self._reported = set(self.unserved)
        unchanged = fresh.services == self.snapshot.services and fresh.pods == self.snapshot.pods
        if unchanged and self.snapshot.version:
            return
        self.snapshot = replace(fresh, version=self.snapshot.version + 1)

    def status(self) -> Obj:
        """What the node is doing, for `localsvc status` and the benchmarks."""
        return node_status(self)

    def service_env(self, namespace: str) -> dict[str, str]:
        return service_env(svc.service_links(self.snapshot, namespace))

    def _sync_bare_pod(self, obj: Obj, desired: set[str]) -> bool:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        desired.add(key)
        record = self.state.pods.get(key)
        if record is not None and record.uid == meta["uid"]:
            if record.obj["metadata"] == meta:
                return False
            # New labels or annotations on the same pod: the running pod takes them (its
            # record is replaced, never changed in place: workers may hold the old object).
            record.obj = {**record.obj, "metadata": copy.deepcopy(meta)}
            return True
        if record is not None:
            self._retire(key)
        self.state.pods[key] = bare_pod(obj)
        return True

    def _changed(self) -> None:
        # ConfigMaps/Secrets may have appeared: pods waiting for them retry now.
        for worker in self.workers.values():
            worker.wake()
        self.sync()
        self.mark_dirty()

    def _spawn_worker(self, record: PodRecord, purpose: str = "") -> PodWorker:
        worker = PodWorker(self.ctx, record, self.lookup, self.mark_dirty, self.service_env,
                           self.dns_ip, self.recorder, self.api_access, self.claim_volume)
        spawn(worker.run(), name=f"pod {record.namespace}/{record.name}{purpose}")
        return worker

    def _start_worker(self, record: PodRecord) -> None:
        self.workers[record.uid] = self._spawn_worker(record)

    def _retire(self, pod_key: str, grace: int | None = None) -> None:
        record = self.state.pods.pop(pod_key, None)
        if record is None:
            return
        worker = self.workers.pop(record.uid, None)
        if worker is None:
            # Never started in this process (e.g. removed right after a node restart): a worker
            # is still needed to find and remove its containers.
            worker = self._spawn_worker(record, " (stop)")
        worker.stop(grace)
        self.terminating[record.uid] = worker

    def pod_record(self, namespace: str, name: str) -> PodRecord:
        record = self.state.pods.get(f"{namespace}/{name}")
        if record is None:
            raise NotFound(f'pod "{name}" not found in namespace "{namespace}"')
        return record


__all__ = ["Controller"]
