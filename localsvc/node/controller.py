"""Desired state against actual state: the node's one sync loop.

Applied objects live in the State (persisted by the Store). `sync()` derives the pods that should
exist (bare Pods, and each Deployment's pods via model.deployments) and keeps one PodWorker per
pod; workers do the Docker work. API calls and Docker events only change the desired state or
wake something, then mark the controller dirty; the loop merges bursts into one sync.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import docker
import docker.errors

from localsvc.errors import ManifestError, NotFound, Problem
from localsvc.model import deployments as dep
from localsvc.model.allocation import dns_ip
from localsvc.model.endpoints import PodView, service_env
from localsvc.model.load import Manifest
from localsvc.model.network import plan_for
from localsvc.model.nodeports import (
    LBClaim,
    allocate_node_ports,
    assign_lb_ports,
    node_port_requests,
)
from localsvc.model.objects import (
    BUILTIN_NAMESPACES,
    NAMESPACED,
    api_version_of,
    comparable,
    now_iso,
    secret_for_output,
    stamp,
)
from localsvc.model.snapshot import Snapshot
from localsvc.model.validate import validate
from localsvc.node import services as svc
from localsvc.node import svclb
from localsvc.node.context import NodeContext
from localsvc.node.network import NetworkSync
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord, State, Store, key_of
from localsvc.node.tasks import spawn
from localsvc.runtime import labels as L
from localsvc.runtime import pods as rt

log = logging.getLogger("localsvc.controller")
Obj = dict[str, Any]
SYNC_PERIOD = 2.0
GC_PERIOD = 10.0


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    kind = obj["kind"]
    namespace = meta.get("namespace", "default") if kind in NAMESPACED else ""
    return key_of(kind, namespace, meta["name"])


class Controller:
    def __init__(self, ctx: NodeContext, store: Store, network: NetworkSync | None = None):
        self.ctx = ctx
        self.store = store
        self.state: State = store.load()
        self.workers: dict[str, PodWorker] = {}  # pod uid -> worker of a desired pod
        self.terminating: dict[str, PodWorker] = {}  # pod uid -> worker stopping its pod
        self._dirty = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.network = network
        plan = plan_for(ctx.config.subnet)
        self.cluster_range = str(plan.cluster_ip_range)
        self.gateway = plan.gateway
        self.dns_ip = dns_ip(self.cluster_range)
        self.started = now_iso()
        self.snapshot = Snapshot(cluster_domain=ctx.config.cluster_domain, dns_ip=self.dns_ip)
        self.svclb_errors: dict[str, str] = {}  # Service key -> why its forwarder is not running
        self.lb_pending: dict[str, str] = {}  # LoadBalancer key -> why it has no ingress
        self.lb_owned: set[str] = set()  # LoadBalancers holding all their host ports
        self._svclb_applied: dict[str, svclb.SvclbSpec] | None = None
        self._svclb_task: asyncio.Task[Any] | None = None
        self._refresh_snapshot()

    # ---- the loop -----------------------------------------------------------------------------

    async def adopt(self, timeout: float = 20.0) -> None:
        """Start a worker per known pod and wait until each has adopted its running containers,
        so that the API never shows a running pod as ContainerCreating after a node restart."""
        self.sync()
        waits = [w.adopted.wait() for w in self.workers.values()]
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*waits), timeout)
            except TimeoutError:
                log.warning("adopting pods took longer than %.0f s; serving anyway", timeout)
        self._refresh_snapshot()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.network is not None:
            spawn(self.network.run(), name="network sync")
            self.network.update(self.snapshot)
        threading.Thread(target=self._watch_docker_events, name="docker-events", daemon=True).start()
        next_gc = 0.0
        while True:
            try:
                self.sync()
                gc_due = time.monotonic() >= next_gc
                self._reconcile_forwarders(force=gc_due)
                if gc_due:
                    next_gc = time.monotonic() + GC_PERIOD
                    await self._collect_garbage()
            except Exception:
                log.exception("sync failed; retrying")
            try:
                await asyncio.wait_for(self._dirty.wait(), timeout=SYNC_PERIOD)
            except TimeoutError:
                pass
            self._dirty.clear()
            await asyncio.sleep(0.02)  # merge a burst of changes into one sync

    # ---- NodePort / LoadBalancer forwarders -----------------------------------------------------

    @property
    def node_ports(self) -> dict[str, dict[str, int]]:
        return self.state.allocations.setdefault("nodePorts", {})

    def _assign_load_balancers(self) -> bool:
        """Which LoadBalancers hold all their host ports (self.lb_owned); the others get a
        pending message. Returns whether the port owners changed (the state needs saving)."""
        claims = []
        for obj in self.state.objects_of("Service"):
            spec = obj.get("spec") or {}
            if spec.get("type") != "LoadBalancer":
                continue
            key = svc.service_key(obj)
            for port in spec.get("ports") or []:
                claims.append(LBClaim(key, int(port["port"]), port.get("protocol") or "TCP",
                                      obj["metadata"].get("creationTimestamp", "")))
        current = self.state.allocations.get("lbOwners") or {}
        owners, pending = assign_lb_ports(claims, current)
        self.state.allocations["lbOwners"] = owners
        self.lb_pending = pending
        self.lb_owned = {key for key in owners.values() if key not in pending}
        return owners != current

    def _reconcile_forwarders(self, force: bool = False) -> None:
        """Start a forwarder reconciliation when the wanted set changed (or periodically, to
        notice a removed container); one at a time, in a thread."""
        if self._svclb_task is not None and not self._svclb_task.done():
            return
        services = {svc.service_key(o): o for o in self.state.objects_of("Service")}
        desired = svclb.desired_forwarders(self.snapshot, services, self.lb_owned,
                                           self.ctx.config.host_address)
        if desired == self._svclb_applied and not force:
            return
        self._svclb_applied = desired
        self._svclb_task = spawn(self._run_forwarder_reconcile(desired), name="svclb reconcile")

    async def _run_forwarder_reconcile(self, desired: dict[str, svclb.SvclbSpec]) -> None:
        cfg = self.ctx.config
        errors = await asyncio.to_thread(svclb.reconcile, self.ctx.docker, cfg.env, cfg.network,
                                         cfg.image, desired, self.gateway)
        self.svclb_errors = errors
        if errors:
            self._svclb_applied = None  # retry on the next pass

    async def _collect_garbage(self) -> None:
        """Remove pod containers and volumes that belong to no known pod: left behind when a
        previous node process died while it was deleting a pod."""
        known = {r.uid for r in self.state.pods.values()} | set(self.terminating)
        containers = await asyncio.to_thread(
            self.ctx.docker.containers.list,
            all=True,
            filters={"label": [f"{L.ENV}={self.ctx.config.env}", L.POD_UID]},
        )
        orphans: dict[str, list[Any]] = {}
        for c in containers:
            uid = c.labels.get(L.POD_UID, "")
            if uid not in known:
                orphans.setdefault(uid, []).append(c)
        volumes = await asyncio.to_thread(
            self.ctx.docker.volumes.list,
            filters={"label": [f"{L.ENV}={self.ctx.config.env}", L.POD_UID]},
        )
        volume_uids = {(v.attrs.get("Labels") or {}).get(L.POD_UID, "") for v in volumes}
        for uid in (set(orphans) | volume_uids) - known - {""}:
            log.info("removing leftovers of deleted pod uid %s", uid)
            await asyncio.to_thread(rt.remove_containers, orphans.get(uid, []), 2)
            await asyncio.to_thread(rt.remove_volumes, self.ctx.docker, self.ctx.config.env, uid)

    def mark_dirty(self) -> None:
        self._dirty.set()

    def _watch_docker_events(self) -> None:
        """Docker events (in a thread) only wake the worker of the pod they concern."""
        label = f"{L.ENV}={self.ctx.config.env}"
        while True:
            try:
                client = docker.from_env(timeout=None)
                for event in client.events(decode=True, filters={"type": "container", "label": label}):
                    attrs = (event.get("Actor") or {}).get("Attributes") or {}
                    uid = attrs.get(L.POD_UID)
                    if uid and event.get("status") in ("die", "start", "destroy", "oom", "stop"):
                        assert self._loop is not None
                        self._loop.call_soon_threadsafe(self._wake_pod, uid)
            except Exception as err:  # the engine restarted or the stream broke: reconnect
                log.warning("docker event stream: %s; reconnecting", err)
                time.sleep(1)

    def _wake_pod(self, uid: str) -> None:
        worker = self.workers.get(uid)
        if worker:
            worker.wake()

    # ---- desired pods -------------------------------------------------------------------------

    def lookup(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.state.get(kind, namespace, name)

    def sync(self) -> None:
        changed = False
        desired: set[str] = set()
        for obj in self.state.objects_of("Pod"):
            changed |= self._sync_bare_pod(obj, desired)
        for obj in self.state.objects_of("Deployment"):
            changed |= self._sync_deployment(obj, desired)
        for key, record in list(self.state.pods.items()):
            if key not in desired:
                self._retire(key)
                changed = True
        for record in self.state.pods.values():
            if record.uid not in self.workers:
                self._start_worker(record)
        for uid, worker in list(self.terminating.items()):
            if worker.done.is_set():
                del self.terminating[uid]
        changed |= self._assign_load_balancers()
        if changed:
            self.store.save(self.state)
        self._refresh_snapshot()

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

    @property
    def allocations(self) -> dict[str, str]:
        return self.state.allocations.setdefault(svc.ALLOCATION_KEY, {})

    def _refresh_snapshot(self) -> None:
        """Rebuild the network snapshot; hand it on only when something in it changed."""
        fresh = svc.build_snapshot(
            self.state.objects, self.allocations, self._pod_views(),
            self.ctx.config.cluster_domain, self.dns_ip, self.ctx.config.node_ip,
            self.node_ports,
        )
        unchanged = fresh.services == self.snapshot.services and fresh.pods == self.snapshot.pods
        if unchanged and self.snapshot.version:
            return
        self.snapshot = replace(fresh, version=self.snapshot.version + 1)
        if self.network is not None:
            self.network.update(self.snapshot)

    def status(self) -> Obj:
        """What the node is doing, for `localsvc status` and the benchmarks."""
        network = self.network
        dns = getattr(network, "dns", None) if network else None
        return {
            "env": self.ctx.config.env,
            "pods": len(self.state.pods),
            "terminating": len(self.terminating),
            "services": len(self.snapshot.services),
            "snapshotVersion": self.snapshot.version,
            "dataplane": type(network.dataplane).__name__ if network else None,
            "appliedVersion": network.applied_version if network else None,
            "lastApplySeconds": network.last_apply_seconds if network else None,
            "lastError": network.last_error if network else None,
            "dns": dict(dns.stats.__dict__) if dns is not None else None,
        }

    def service_env(self, namespace: str) -> dict[str, str]:
        return service_env(svc.service_links(self.snapshot, namespace))

    def _sync_bare_pod(self, obj: Obj, desired: set[str]) -> bool:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        desired.add(key)
        record = self.state.pods.get(key)
        if record is not None and record.uid == meta["uid"]:
            return False
        if record is not None:
            self._retire(key)
        pod = copy.deepcopy(obj)
        self.state.pods[key] = PodRecord(obj=pod, owner=None, created=time.time())
        return True

    def _sync_deployment(self, obj: Obj, desired: set[str]) -> bool:
        dkey = _key(obj)
        meta, spec = obj["metadata"], obj["spec"]
        template = spec["template"]
        current = self._template_hash(dkey, template)
        owned = [r for r in self.state.pods.values() if r.owner == dkey]
        step = dep.plan_rollout(
            spec,
            current,
            [dep.OwnedPod(r.name, r.template_hash, self._ready(r), r.created) for r in owned],
        )
        for name in step.delete:
            self._retire(f"{meta['namespace']}/{name}")
        for _ in range(step.create):
            record = self._new_deployment_pod(obj, dkey, current)
            self.state.pods[f"{record.namespace}/{record.name}"] = record
        for record in self.state.pods.values():
            if record.owner == dkey:
                desired.add(f"{record.namespace}/{record.name}")
        return bool(step.delete or step.create)

    def _template_hash(self, dkey: str, template: Obj) -> str:
        """The pod-template-hash, including a restart token when the Deployment was restarted
        (a rebuilt image: same template, new pods), like `kubectl rollout restart`."""
        token = (self.state.allocations.get("restarts") or {}).get(dkey)
        return dep.template_hash({**template, "restartedAt": token} if token else template)

    def restart_image(self, image: str) -> list[Obj]:
        """Roll every Deployment and re-create every bare Pod that runs `image` (rebuilt)."""
        results = []
        restarts = self.state.allocations.setdefault("restarts", {})
        for key, obj in list(self.state.objects.items()):
            if obj["kind"] not in ("Deployment", "Pod"):
                continue
            spec = obj["spec"]["template"]["spec"] if obj["kind"] == "Deployment" else obj["spec"]
            images = {c.get("image") for c in [*(spec.get("containers") or []),
                                               *(spec.get("initContainers") or [])]}
            if image not in images:
                continue
            if obj["kind"] == "Deployment":
                restarts[key] = now_iso() + f"#{time.time_ns()}"
            else:
                obj["metadata"]["uid"] = str(uuid.uuid4())  # a new pod, as after delete+create
            results.append(self._result(key, "restarted"))
        self.store.save(self.state)
        self._changed()
        return results

    def _new_deployment_pod(self, deployment: Obj, dkey: str, hash_: str) -> PodRecord:
        meta = deployment["metadata"]
        template = deployment["spec"]["template"]
        tmeta = template.get("metadata") or {}
        while True:
            name = dep.pod_name(meta["name"], hash_, dep.random_suffix())
            if f"{meta['namespace']}/{name}" not in self.state.pods:
                break
        now = time.time()
        pod: Obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "uid": str(uuid.uuid4()),
                "creationTimestamp": now_iso(now),
                "generateName": f"{meta['name']}-{hash_}-",
                "labels": {**(tmeta.get("labels") or {}), "pod-template-hash": hash_},
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{meta['name']}-{hash_}",
                        "controller": True,
                    }
                ],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        return PodRecord(obj=pod, owner=dkey, template_hash=hash_, created=now)

    def _ready(self, record: PodRecord) -> bool:
        worker = self.workers.get(record.uid)
        return bool(worker and worker.state.ready)

    def _start_worker(self, record: PodRecord) -> None:
        worker = PodWorker(self.ctx, record, self.lookup, self.mark_dirty, self.service_env,
                           self.dns_ip)
        self.workers[record.uid] = worker
        spawn(worker.run(), name=f"pod {record.namespace}/{record.name}")

    def _retire(self, pod_key: str, grace: int | None = None) -> None:
        record = self.state.pods.pop(pod_key, None)
        if record is None:
            return
        worker = self.workers.pop(record.uid, None)
        if worker is None:
            # Never started in this process (e.g. removed right after a node restart): a worker
            # is still needed to find and remove its containers.
            worker = PodWorker(self.ctx, record, self.lookup, self.mark_dirty, self.service_env,
                               self.dns_ip)
            spawn(worker.run(), name=f"pod {record.namespace}/{record.name} (stop)")
        worker.stop(grace)
        self.terminating[record.uid] = worker

    # ---- changes from the API -----------------------------------------------------------------

    def apply(self, manifests: Sequence[Manifest], prune: bool) -> list[Obj]:
        """Apply objects (all or nothing); with prune, remove applied objects not given."""
        problems = validate(manifests)
        if problems:
            raise ManifestError(problems)
        ips, ports = self._check_allocations(manifests, prune)
        results = []
        given = set()
        for m in manifests:
            key = _key(m.obj)
            given.add(key)
            previous = self.state.objects.get(key)
            if previous is not None and comparable(previous) == comparable(m.obj):
                action = "unchanged"
            else:
                stored = stamp(m.obj, previous)
                if previous is not None and m.obj["kind"] == "Pod":
                    # Pod specs are immutable in Kubernetes: a changed Pod is a new pod.
                    stored["metadata"]["uid"] = str(uuid.uuid4())
                self.state.objects[key] = stored
                action = "created" if previous is None else "configured"
            self.state.sources[key] = {"file": m.file, "line": m.line}
            results.append(self._result(key, action))
        if prune:
            for key in [k for k in self.state.objects if k not in given]:
                results.append(self._remove_object(key))
        # The tables the check computed are those of the Services now stored.
        self.state.allocations[svc.ALLOCATION_KEY] = ips
        self.state.allocations["nodePorts"] = ports
        self.store.save(self.state)
        self._changed()
        return results

    def _allocate(self, services: dict[str, Obj], sources: dict[str, Obj],
                  given: dict[str, Manifest]) -> tuple[dict[str, str], dict[str, dict[str, int]],
                                                       list[Problem]]:
        """ClusterIPs and NodePorts for exactly `services` (key -> object), from the current
        tables; problems name the file and line of the manifest that asked."""
        ips, problems = svc.allocate_cluster_ips(list(services.values()), sources,
                                                 self.allocations, self.cluster_range)
        requests = []
        for key, obj in services.items():
            source = given.get(key)
            requests += node_port_requests(obj, source.file if source else "",
                                           source.lines if source else None)
        ports, port_problems = allocate_node_ports(requests, self.node_ports,
                                                   self.ctx.config.node_port_range,
                                                   seed=self.ctx.config.env)
        return ips, ports, problems + port_problems

    def _check_allocations(self, manifests: Sequence[Manifest],
                           prune: bool) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
        """The tables after this apply; address problems (outside the range, taken, changed)
        fail the whole apply before anything changed."""
        after = {} if prune else {k: o for k, o in self.state.objects.items()
                                  if k.startswith("Service/")}
        sources = dict(self.state.sources)
        given: dict[str, Manifest] = {}
        for m in manifests:
            if m.kind == "Service":
                after[_key(m.obj)] = m.obj
                sources[_key(m.obj)] = {"file": m.file, "line": m.line_of("spec.clusterIP")}
                given[_key(m.obj)] = m
        ips, ports, problems = self._allocate(after, sources, given)
        if problems:
            raise ManifestError(problems)
        return ips, ports

    def _reallocate(self) -> None:
        """After a delete: free what the removed Services held."""
        services = {k: o for k, o in self.state.objects.items() if k.startswith("Service/")}
        ips, ports, problems = self._allocate(services, self.state.sources, {})
        if problems:  # nothing new is asked for on delete; only a bug gets here
            log.error("allocation after delete: %s", "; ".join(map(str, problems)))
        self.state.allocations[svc.ALLOCATION_KEY] = ips
        self.state.allocations["nodePorts"] = ports

    def delete(self, keys: Sequence[str]) -> list[Obj]:
        results = []
        for key in keys:
            if key.startswith("Pod/") and key not in self.state.objects:
                _, namespace, name = key.split("/", 2)
                if f"{namespace}/{name}" in self.state.pods:
                    self._retire(f"{namespace}/{name}")
                    results.append(self._result(key, "deleted"))
                    continue
            if key not in self.state.objects:
                results.append(self._result(key, "not found"))
                continue
            results.append(self._remove_object(key))
            if key.startswith("Namespace//"):
                namespace = key.split("/", 2)[2]
                for other in [k for k in self.state.objects if k.split("/")[1] == namespace]:
                    results.append(self._remove_object(other))
        self._reallocate()
        self.store.save(self.state)
        self._changed()
        return results

    def scale(self, namespace: str, name: str, replicas: int) -> Obj:
        key = key_of("Deployment", namespace, name)
        obj = self.state.objects.get(key)
        if obj is None:
            raise NotFound(f'deployment "{name}" not found in namespace "{namespace}"')
        obj["spec"]["replicas"] = replicas
        obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
        self.store.save(self.state)
        self._changed()
        return self._result(key, "scaled")

    def _remove_object(self, key: str) -> Obj:
        self.state.objects.pop(key, None)
        self.state.sources.pop(key, None)
        return self._result(key, "deleted")

    def _result(self, key: str, action: str) -> Obj:
        kind, namespace, name = key.split("/", 2)
        return {"kind": kind, "namespace": namespace, "name": name, "action": action}

    def _changed(self) -> None:
        # ConfigMaps/Secrets may have appeared: pods waiting for them retry now.
        for worker in self.workers.values():
            worker.wake()
        self.sync()
        self.mark_dirty()

    # ---- reading, Kubernetes-shaped -----------------------------------------------------------

    def list_objects(self, kind: str, namespace: str | None) -> list[Obj]:
        if kind == "Pod":
            items = self._pods()
        elif kind == "Namespace":
            items = self._namespaces()
        elif kind == "Service":
            items = [svc.kube_dns_object(self.dns_ip, self.started)] + [
                self._service_view(o) for o in self.state.objects_of("Service")]
        elif kind == "Endpoints":
            items = svc.endpoints_view(self.snapshot, self.state.objects, self._created())
        elif kind == "EndpointSlice":
            items = svc.endpoint_slices_view(self.snapshot, self.state.objects, self._created())
        else:
            items = [self._with_status(o) for o in self.state.objects_of(kind)]
        if namespace is not None and kind != "Namespace":
            items = [o for o in items if o["metadata"].get("namespace") == namespace]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def _pods(self) -> list[Obj]:
        out = []
        for record in self.state.pods.values():
            out.append(self._pod_object(record, self.workers.get(record.uid), False))
        for worker in self.terminating.values():
            if not worker.done.is_set():
                out.append(self._pod_object(worker.record, worker, True))
        return out

    def _pod_object(self, record: PodRecord, worker: PodWorker | None, deleting: bool) -> Obj:
        obj = copy.deepcopy(record.obj)
        obj.setdefault("apiVersion", "v1")
        obj.setdefault("kind", "Pod")
        obj["spec"]["nodeName"] = "localsvc"
        if worker is not None:
            obj["status"] = worker.k8s_status()
            if deleting and worker.deleting_since:
                obj["metadata"]["deletionTimestamp"] = now_iso(worker.deleting_since)
        else:
            obj["status"] = {"phase": "Pending"}
        return obj

    def _created(self) -> dict[str, str]:
        """Service key -> creationTimestamp, for the Endpoints/EndpointSlices derived from it."""
        created = {svc.service_key(o): o["metadata"].get("creationTimestamp", "")
                   for o in self.state.objects_of("Service")}
        created["kube-system/kube-dns"] = self.started
        return created

    def _service_view(self, obj: Obj) -> Obj:
        key = svc.service_key(obj)
        is_lb = (obj.get("spec") or {}).get("type") == "LoadBalancer"
        pending = self.lb_pending.get(key) or self.svclb_errors.get(key)
        ingress = self.ctx.config.host_address if is_lb and not pending and \
            self._svclb_applied is not None and key in self._svclb_applied else None
        return svc.service_object(obj, self.allocations.get(key), self.node_ports.get(key),
                                  ingress_ip=ingress, pending=pending)

    def _namespaces(self) -> list[Obj]:
        names = set(BUILTIN_NAMESPACES)
        declared = {o["metadata"]["name"]: o for o in self.state.objects_of("Namespace")}
        for obj in self.state.objects.values():
            if obj["kind"] in NAMESPACED:
                names.add(obj["metadata"].get("namespace", "default"))
        names |= {r.namespace for r in self.state.pods.values()}
        out = []
        for name in sorted(names | set(declared)):
            obj = copy.deepcopy(declared[name]) if name in declared else {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
            }
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("creationTimestamp", self.started)
            out.append(obj)
        return out

    def _with_status(self, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out.setdefault("apiVersion", api_version_of(out["kind"]))
        if out["kind"] == "Secret":
            out = secret_for_output(out)
        elif out["kind"] == "Deployment":
            out["status"] = self._deployment_status(out)
        return out

    def _deployment_status(self, obj: Obj) -> Obj:
        key = _key(obj)
        current = self._template_hash(key, obj["spec"]["template"])
        owned = [r for r in self.state.pods.values() if r.owner == key]
        ready = sum(1 for r in owned if self._ready(r))
        updated = sum(1 for r in owned if r.template_hash == current)
        replicas = int(obj["spec"].get("replicas", 1))
        available = ready >= replicas
        return {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": len(owned),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, replicas - ready),
            "conditions": [
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable" if updated == len(owned) == replicas
                    else "ReplicaSetUpdated",
                },
            ],
        }

    def pod_record(self, namespace: str, name: str) -> PodRecord:
        record = self.state.pods.get(f"{namespace}/{name}")
        if record is None:
            raise NotFound(f'pod "{name}" not found in namespace "{namespace}"')
        return record


__all__ = ["Controller"]
