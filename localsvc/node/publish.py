"""Publishing what the node knows into its ObjectStore, only what changed.

The controller keeps its working tables (applied objects, pod records, workers, the network
snapshot); after each sync it publishes their Kubernetes-shaped objects (applied objects,
Services with their allocations and status, Deployments with status, pods with status,
Endpoints and EndpointSlices, ServiceAccounts) into the ObjectStore, which turns each real
change into a watch event. An entry is rendered only when its fingerprint (the inputs it is made of; stored
objects are replaced, never changed in place, so identity is cheap to compare) differs from the
one last published, so a sync that changed nothing renders nothing and emits no event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from localsvc.model import replicasets as rs
from localsvc.model.endpoints import SERVICE_NAME_LABEL
from localsvc.model.incluster import current_default_account_uid
from localsvc.model.objects import api_version_of
from localsvc.model.nodeobject import NODE_NAME, default_service_account, node_object
from localsvc.model.snapshot import ServiceInfo, Snapshot
from localsvc.node import services as svc
from localsvc.node.network import NetworkSync
from localsvc.node.objectstore import ObjectStore, WatchEvent
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord, State, key_of
from localsvc.node import svclb
from localsvc.node.views import SYNCED_STATUS_KINDS, ObjectViews, object_key, problems_by_object
from localsvc.node.views import with_problems

log = logging.getLogger("localsvc.publish")
Obj = dict[str, Any]
Entry = tuple[Any, Callable[[], Obj]]  # (fingerprint, render)

# Kinds the node derives or decorates itself; every other applied kind is published as stored.
# (Applied ServiceAccounts are published as stored too, in the group of the derived `default`
# ones: see _account_entries.)
DERIVED = frozenset({"Pod", "Service", "Endpoints", "EndpointSlice", "Namespace", "Node",
                     "ServiceAccount", "ReplicaSet", "PersistentVolumeClaim"})


class ObjectPublisher:
    """Keeps a group of the store's objects equal to entries given each time, rendering an
    entry only when its fingerprint changed since it was last published."""

    def __init__(self, objects: ObjectStore):
        self.objects = objects
        self._fingerprints: dict[str, Any] = {}
        self._groups: dict[str, set[str]] = {}  # group -> keys it published

    def publish(self, group: str, entries: Mapping[str, Entry]) -> list[WatchEvent]:
        """Make the objects this publisher keeps under `group` exactly `entries` (key ->
        entry); objects of other groups, or put by others, are left alone."""
        events = []
        published = self._groups.setdefault(group, set())
        for key in published - entries.keys():
            self._fingerprints.pop(key, None)
            event = self.objects.delete(key)
            if event is not None:
                events.append(event)
        for key, (fingerprint, render) in entries.items():
            if key in self._fingerprints and self._fingerprints[key] == fingerprint:
                continue
            event = self.objects.put(key, render())
            self._fingerprints[key] = fingerprint
            if event is not None:
                events.append(event)
        self._groups[group] = set(entries)
        return events

    def forget(self, key: str) -> None:
        """Render `key` again at the next publish (its object was deleted from the store, to be
        re-created as a new object)."""
        self._fingerprints.pop(key, None)

    def keys(self, group: str) -> set[str]:
        return set(self._groups.get(group, ()))

    def update(self, group: str, entries: Mapping[str, Entry],
               stale: Iterable[str] = ()) -> list[WatchEvent]:
        """Put `entries` into `group` and delete its `stale` keys; the group's other objects
        stay (publish() for a part of a group)."""
        events = []
        published = self._groups.setdefault(group, set())
        for key in set(stale) - entries.keys():
            published.discard(key)
            self._fingerprints.pop(key, None)
            event = self.objects.delete(key)
            if event is not None:
                events.append(event)
        for key, (fingerprint, render) in entries.items():
            published.add(key)
            if key in self._fingerprints and self._fingerprints[key] == fingerprint:
                continue
            self._fingerprints[key] = fingerprint
            event = self.objects.put(key, render())
            if event is not None:
                events.append(event)
        return events


@dataclass(frozen=True)
class _Derived:
    """What the derived objects were last published from."""

    tables: Any
    version: int
    infos: dict[tuple[str, str], ServiceInfo]


def _slice_owner(obj: Obj | None) -> tuple[str, str | None] | None:
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    return meta.get("namespace", "default"), (meta.get("labels") or {}).get(
        SERVICE_NAME_LABEL)


def _same(obj: Obj) -> Obj:
    return obj


class StorePublishing(ObjectViews):
    """The Controller's side of publishing: publishes what ObjectViews renders. Attributes are
    the Controller's."""

    state: State
    snapshot: Snapshot
    # node/claimsync.py's (claims, their volumes, classes); a stub here would shadow it
    _publish_storage: Callable[[], list[WatchEvent]]
    workers: dict[str, PodWorker]
    terminating: dict[str, PodWorker]
    generation: int
    dns_ip: str
    started: str
    kubernetes_objects: dict[str, Obj]  # the `kubernetes` Service's, made once
    objects: ObjectStore
    network: NetworkSync | None
    publisher: ObjectPublisher
    finalizing: dict[str, Obj]
    lb_pending: dict[str, str]
    svclb_errors: dict[str, str]
    _svclb_applied: dict[str, svclb.SvclbSpec] | None
    _derived_inputs: _Derived | None  # what Endpoints/EndpointSlices/Namespaces came from
    replicaset_counts: dict[str, dict[str, rs.PodCounts]]  # Deployment -> hash -> its pods
    ingress_status: Callable[[Obj], Obj | None]  # node/ingresssync.py
    _publish_ingress_class: Callable[[], list[WatchEvent]]

    def list_objects(self, kind: str, namespace: str | None) -> list[Obj]:
        """The objects of `kind` (in `namespace`) as the store holds them, each with the
        store's uid and resourceVersion, by namespace and name (what a list of the Kubernetes
        API holds, for the node's own readers and tests)."""
        items, _ = self.objects.list_objects(kind)
        if namespace is not None and kind != "Namespace":
            items = [o for o in items if o["metadata"].get("namespace") == namespace]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""),
                                            o["metadata"]["name"]))

    def _publish(self) -> list[WatchEvent]:
        """Publish the objects of this sync; the events of what changed. Never raises: the store
        lags one sync behind when a view fails, and the failure is logged."""
        try:
            events = self._publish_all()
        except Exception:
            log.exception("publishing objects to the store failed; the next sync tries again")
            events = []
        if self.network is not None:
            self.network.catch_up()  # the store's subscribers take what changed
        return events

    def _publish_all(self) -> list[WatchEvent]:
        found = problems_by_object(self.problems())
        events = self.publisher.publish("applied", {
            key: ((obj, self._status_inputs(obj), found.get(key)),
                  partial(self._render_applied, obj, found.get(key, [])))
            for key, obj in self.state.objects.items() if obj.get("kind") not in DERIVED}
            | {key: (obj, partial(_same, obj)) for key, obj in self.finalizing.items()
               if obj.get("kind") not in DERIVED})
        services: dict[str, Entry] = {}
        for obj in self.state.objects_of("Service"):
            name = svc.service_key(obj)
            services[f"Service/{name}"] = (
                (obj, self._service_inputs(name), found.get(f"Service/{name}"),
                 found.get(f"Endpoints/{name}")),
                partial(self._render_service, obj, found))
        # kube-dns is the node's own Service (no applied object): published so that a client
        # reading the store sees it, as it did when reads were rendered from the state.
        services["Service/kube-system/kube-dns"] = (
            (self.dns_ip, self.started),
            partial(svc.kube_dns_object, self.dns_ip, self.started))
        events += self.publisher.publish("Service", services)
        events += self._publish_kubernetes_service()
        events += self.publisher.publish("Pod", self._pod_entries(found))
        events += self.publisher.publish("ReplicaSet", self._replicaset_entries())
        node_ip = self.ctx.config.node_ip
        events += self.publisher.publish("Node", {
            key_of("Node", "", NODE_NAME): ((node_ip, self.started),
                                            partial(node_object, node_ip, self.started))})
        events += self._publish_derived(found)
        events += self._publish_ingress_class()
        return events + self._publish_storage()


    def _publish_kubernetes_service(self) -> list[WatchEvent]:
        """The `kubernetes` Service of default (the API server's in a cluster) with its
        Endpoints and EndpointSlice, leading to the node's API: published as objects of the
        store, so DNS and the dataplane serve it as they serve any Service."""
        return self.publisher.publish("kubernetes", {
            key: (self.started, partial(_same, obj))
            for key, obj in self.kubernetes_objects.items()})

    def _publish_derived(self, found: dict[str, list[str]]) -> list[WatchEvent]:
        """Endpoints, EndpointSlices and Namespaces: all of them when the stored objects,
        the pods or the problems changed; else those of the Services whose snapshot entry
        changed (an endpoint flip renders one Service's, not 200)."""
        infos = {(s.namespace, s.name): s for s in self.snapshot.services}
        tables = (self.generation, len(self.state.pods),
                  tuple(sorted((k, tuple(v)) for k, v in found.items())),
                  tuple(sorted(self.finalizing)))
        before: _Derived | None = self._derived_inputs
        events: list[WatchEvent] = []
        if before is not None and before.tables == tables:
            if before.version != self.snapshot.version:
                changed = [s for k, s in infos.items() if before.infos.get(k) != s]
                events = self._publish_endpoints_of(changed, found)
        else:
            rendered = {kind: self.rendered_objects(kind, None)
                        for kind in ("Endpoints", "EndpointSlice", "Namespace")}
            for kind, objects in rendered.items():
                events += self.publisher.publish(kind, {
                    key_of(kind, o["metadata"].get("namespace", ""), o["metadata"]["name"]):
                        (o, partial(_same, o))
                    for o in objects})
            events += self.publisher.publish("ServiceAccount", self._account_entries(
                rendered["Namespace"], found))
        self._derived_inputs = _Derived(tables, self.snapshot.version, infos)
        return events

    def _account_entries(self, namespaces: list[Obj],
                         found: dict[str, list[str]]) -> dict[str, Entry]:
        """The applied ServiceAccounts, and a `default` one in every namespace where none is
        applied, as the cluster's controller makes it (and makes again when it is deleted).
        One group: the applied `default` and the derived one share a key, which one publisher
        group must own, or publishing one group would delete the other's object."""
        entries: dict[str, Entry] = {
            key: ((obj, found.get(key)), partial(self._render_applied, obj, found.get(key, [])))
            for key, obj in self.state.objects.items() if obj.get("kind") == "ServiceAccount"}
        for namespace in namespaces:
            name = namespace["metadata"]["name"]
            created = namespace["metadata"].get("creationTimestamp") or self.started
            key = key_of("ServiceAccount", name, "default")
            if key not in entries:
                uid = current_default_account_uid(self.ctx.config.env, self.state.allocations,
                                                  name)
                entries[key] = ((name, created, uid),
                                partial(default_service_account, name, created, uid))
        return entries

    def _publish_endpoints_of(self, changed: list[ServiceInfo],
                              found: dict[str, list[str]]) -> list[WatchEvent]:
        if not changed:
            return []
        part = replace(self.snapshot, services=tuple(changed))
        names = {(s.namespace, s.name) for s in changed}
        created = self._created()
        endpoints = {}
        for o in svc.endpoints_view(part, self.state.objects, created):
            key = key_of("Endpoints", o["metadata"]["namespace"], o["metadata"]["name"])
            with_problems(o, found.get(key, []))
            endpoints[key] = (o, partial(_same, o))
        events = self.publisher.update("Endpoints", endpoints)
        slices = {}
        for o in svc.endpoint_slices_view(part, self.state.objects, created):
            meta = o["metadata"]
            owner = (meta.get("namespace", "default"),
                     (meta.get("labels") or {}).get(SERVICE_NAME_LABEL))
            if owner in names:
                slices[key_of("EndpointSlice", owner[0], meta["name"])] = (o, partial(_same, o))
        stale = [k for k in self.publisher.keys("EndpointSlice")
                 if _slice_owner(self.objects.get(k)) in names]
        return events + self.publisher.update("EndpointSlice", slices, stale)

    def _replicaset_entries(self) -> dict[str, Entry]:
        """The ReplicaSets of every Deployment the controller keeps revisions of."""
        entries: dict[str, Entry] = {}
        for dkey, history in self.state.deployments.items():
            deployment = self.state.objects.get(dkey)
            if deployment is None:
                continue
            counts = self.replicaset_counts.get(dkey, {})
            meta = deployment["metadata"]
            for rev in history.revisions:
                key = key_of("ReplicaSet", meta.get("namespace", "default"),
                             rs.replicaset_name(meta["name"], rev.hash))
                pods = counts.get(rev.hash, rs.PodCounts())
                entries[key] = ((deployment, rev, pods),
                                partial(self._render_replicaset, key, deployment, rev, pods))
        return entries

    def _render_replicaset(self, key: str, deployment: Obj, rev: rs.Revision,
                           pods: rs.PodCounts) -> Obj:
        """The ReplicaSet with the generation the store will give it (its status observed
        it: the pods were counted in the same sync)."""
        shown = rs.replicaset_object(deployment, rev, pods, 1)
        previous = self.objects.get(key)
        if previous is not None:
            before = int(previous["metadata"].get("generation") or 1)
            generation = before + (1 if previous.get("spec") != shown["spec"] else 0)
            shown["metadata"]["generation"] = shown["status"]["observedGeneration"] = generation
        return shown

    def _deployment_revision(self, obj: Obj) -> str | None:
        history = self.state.deployments.get(key_of("Deployment", obj["metadata"].get(
            "namespace", "default"), obj["metadata"]["name"]))
        return str(max(r.revision for r in history.revisions)) \
            if history is not None and history.revisions else None

    def _render_applied(self, obj: Obj, problems: list[str]) -> Obj:
        if obj.get("kind") == "Deployment":
            shown = self._shown(obj, self._with_status)
            revision = self._deployment_revision(obj)
            if revision is not None and not problems:  # (the deployment controller sets it)
                meta = shown["metadata"] = dict(shown["metadata"])
                meta["annotations"] = {**(meta.get("annotations") or {}), rs.REVISION: revision}
            return with_problems(shown, problems)
        if obj.get("kind") == "Ingress" and (status := self.ingress_status(obj)) is not None:
            return with_problems({**self._shown(obj, self._with_status), "status": status},
                                 problems)
        if obj.get("kind") in SYNCED_STATUS_KINDS or obj.get("kind") == "Secret" or problems:
            return with_problems(self._shown(obj, self._with_status), problems)
        # Stored objects are never changed in place and the store replaces the metadata it
        # stamps: the object itself is shared, not copied (an apply of thousands of ConfigMaps
        # must not hold the event loop, where DNS answers).
        return {**obj, "apiVersion": obj.get("apiVersion") or api_version_of(str(obj["kind"]))}

    def _render_service(self, obj: Obj, found: dict[str, list[str]]) -> Obj:
        return self._shown(obj, partial(self._service_view, found=found))

    def _render_pod(self, record: PodRecord, worker: PodWorker | None, deleting: bool,
                    problems: list[str]) -> Obj:
        return with_problems(self._pod_object(record, worker, deleting), problems)

    def _service_inputs(self, key: str) -> Any:
        applied = self._svclb_applied
        return (self.allocations.get(key), self.node_ports.get(key), self.lb_pending.get(key),
                self.svclb_errors.get(key), applied is not None and key in applied)

    def _status_inputs(self, obj: Obj) -> Any:
        if obj.get("kind") == "Deployment":
            try:
                return self._deployment_status(obj), self._deployment_revision(obj)
            except Exception:  # a malformed stored object: published as stored, with problems
                return None
        if obj.get("kind") == "Ingress":
            return self.ingress_status(obj)
        if obj.get("kind") in SYNCED_STATUS_KINDS:
            return self.workload_statuses.get(object_key(obj))
        return None

    def _pod_entries(self, found: dict[str, list[str]]) -> dict[str, Entry]:
        entries: dict[str, Entry] = {}
        pods = [(r, self.workers.get(r.uid), False) for r in self.state.pods.values()]
        pods += [(w.record, w, True) for w in self.terminating.values()
                 if not w.done.is_set() and not w.deleted_at_once]
        for record, worker, deleting in pods:
            status = worker.k8s_status() if worker is not None else None
            since = worker.deleting_since if worker is not None else None
            key = key_of("Pod", record.namespace, record.name)
            if deleting and key in entries:
                continue  # a Pod re-created under its name: the new one is the object served
            entries[key] = (
                (record.obj, status, deleting, since, found.get(key)),
                partial(self._render_pod, record, worker, deleting, found.get(key, [])))
        return entries


__all__ = ["DERIVED", "ObjectPublisher", "StorePublishing"]
