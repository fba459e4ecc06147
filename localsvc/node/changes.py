"""Changes from the API: apply (all or nothing), delete, scale, restart after an image rebuild,
and the ClusterIP/NodePort tables they imply.

A mixin of the Controller. An apply is staged on copies of the tables and saved before the
live State takes it: when anything fails before the save has succeeded (validation, an
allocation clash, a full disk), the stored objects and the running environment are unchanged.
"""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from localsvc.errors import LocalsvcError, ManifestError, NotFound, Problem
from localsvc.model.defaults import with_defaults
from localsvc.model.incluster import SERVICE_KEY as KUBERNETES_KEY
from localsvc.model import incluster as accounts
from localsvc.model.load import Manifest, ObjectKey
from localsvc.model.nodeports import allocate_node_ports, node_port_requests
from localsvc.model.objects import now_iso, stamp, unchanged
from localsvc.model.validate import MAX_REPLICAS, update_problems, validate
from localsvc.node import services as svc
from localsvc.node.context import NodeContext
from localsvc.node.madeobjects import disowned
from localsvc.node.madeobjects import made_by_controller as made
from localsvc.node.podworker import PodWorker
from localsvc.node.reconcile import ROLLING_KINDS
from localsvc.node.store import State, Store, key_of
from localsvc.node.objectstore import ObjectStore
from localsvc.node.views import ObjectViews, object_key

if TYPE_CHECKING:  # (publish.py imports what imports this module)
    from localsvc.node.publish import ObjectPublisher

log = logging.getLogger("localsvc.changes")
Obj = dict[str, Any]


@dataclass(frozen=True)
class Prepared:
    """One manifest of an apply, compared and stamped against the object stored at the time."""

    manifest: Manifest
    key: str
    previous: Obj | None  # the stored object it was compared with (identity is checked)
    stored: Obj | None  # what to store; None when unchanged
    text: str = ""  # json.dumps(stored), for the Store


def prepare(manifests: Sequence[Manifest], objects: Mapping[str, Obj]) -> list[Prepared]:
    """Default, compare and stamp each manifest against `objects` (deep copies: the slow, pure
    part of an apply, which may run off the event loop; only reads `objects`). Objects are
    stored with the API server's defaults filled in (model/defaults.py), after validation of
    the manifest as written: what kubectl reads back and merges against is what a cluster
    stores, and a manifest that only spells out a default is unchanged."""
    out = []
    for m in manifests:
        key = object_key(m.obj)
        previous = objects.get(key)
        wanted = with_defaults(m.obj)
        if previous is not None and unchanged(previous, wanted):
            out.append(Prepared(m, key, previous, None))
            continue
        stored = stamp(wanted, previous)
        if previous is not None and m.obj["kind"] == "Pod" and \
                previous.get("spec") != stored.get("spec"):
            # Pod specs are immutable in Kubernetes: a changed Pod is a new pod (a change of
            # its labels or annotations is not: the running pod takes them).
            stored["metadata"]["uid"] = str(uuid.uuid4())
        out.append(Prepared(m, key, previous, stored, json.dumps(stored)))
    return out


@dataclass(frozen=True)
class Staged:
    """An apply ready to commit: the State to save, the results, the generation it is on."""

    state: State
    results: list[Obj]
    generation: int


def result(key: str, action: str) -> Obj:
    parsed = ObjectKey.parse(key)
    return {"kind": parsed.kind, "namespace": parsed.namespace, "name": parsed.name,
            "action": action}


class ObjectChanges(ObjectViews):
    """Changing the desired state (reading it through ObjectViews). Attributes are the
    Controller's."""

    ctx: NodeContext
    store: Store
    state: State
    cluster_range: str
    generation: int  # +1 on every change of the stored objects
    terminating: dict[str, PodWorker]  # pod uid -> the worker stopping it
    objects: ObjectStore
    publisher: ObjectPublisher

    def _retire(self, pod_key: str, grace: int | None = None) -> None:
        raise NotImplementedError  # the Controller's

    def _changed(self) -> None:
        raise NotImplementedError  # the Controller's

    def apply(self, manifests: Sequence[Manifest], prune: bool, validated: bool = False,
              prepared: Sequence[Prepared] | None = None) -> list[Obj]:
        """Apply objects (all or nothing); with prune, remove applied objects not given.
        `validated`: the caller ran model.validate already; `prepared`: the caller ran
        `prepare` (both off the event loop). An object stored since then is prepared again."""
        staged = self._stage(manifests, prune, validated, prepared)
        self.store.save(staged.state)  # raises before anything changed in memory
        return self._commit(staged)

    async def apply_async(self, manifests: Sequence[Manifest], prune: bool,
                          prepared: Sequence[Prepared]) -> list[Obj]:
        """apply() of validated, prepared manifests, with the state file written off the event
        loop. Objects changed by a delete/scale while the file was written: staged again."""
        staged = self._stage(manifests, prune, True, prepared)
        # Raises before anything changed in memory.
        written = await self.store.save_async(staged.state)
        if staged.generation != self.generation:
            try:
                staged = self._stage(manifests, prune, True, prepared)
                self.store.save(staged.state)
                written = self.store.submitted
            except BaseException:
                self.store.submit(self.state)  # the file held the first staging: put back
                raise
        results = self._commit(staged)
        if self.store.submitted != written:  # a save queued meanwhile held the old objects
            try:
                await self.store.save_async(self.state)
            except Exception:  # the apply's own write succeeded; the next change saves again
                log.exception("saving the state after an apply failed")
        return results

    def check(self, manifests: Sequence[Manifest], prepared: Sequence[Prepared]) -> Staged:
        """What an apply of validated, prepared manifests would store, without storing it (the
        Kubernetes API's dryRun): allocation problems raise as the apply's would."""
        return self._stage(manifests, False, True, prepared)

    def _stage(self, manifests: Sequence[Manifest], prune: bool, validated: bool,
               prepared: Sequence[Prepared] | None) -> Staged:
        """The State after the apply, on copies of the tables: self.state is not touched."""
        if problems := [] if validated else validate(manifests):
            raise ManifestError(problems)
        ips, ports = self._check_allocations(manifests, prune)
        objects, sources = dict(self.state.objects), dict(self.state.sources)
        results, given, new_pods, immutable = [], set(), [], []
        for p in prepared if prepared is not None else prepare(manifests, objects):
            if objects.get(p.key) is not p.previous:  # changed meanwhile: compare again
                p = prepare([p.manifest], objects)[0]
            p = self._with_account_uid(p)
            immutable += update_problems(p.manifest, p.previous, p.stored)
            if p.stored is not None and p.manifest.kind == "Pod" and (p.previous or {}).get(
                    "metadata", {}).get("uid") != p.stored["metadata"]["uid"]:
                new_pods.append(p.manifest)
            given.add(p.key)
            if p.stored is None:
                action = "unchanged"
            else:
                objects[p.key] = p.stored
                self.store.remember(p.key, p.stored, p.text)
                action = "created" if p.previous is None else "configured"
            sources[p.key] = {"file": p.manifest.file, "line": p.manifest.line}
            results.append(result(p.key, action))
        if prune:
            for key in [k for k in objects if k not in given and not made(sources.get(k))]:
                objects.pop(key)
                sources.pop(key, None)
                results.append(result(key, "deleted"))
        # As the ServiceAccount admission: a new pod's account exists (in this apply or stored).
        if problems := immutable + accounts.missing_account_problems(
                new_pods, lambda ns, name: key_of("ServiceAccount", ns, name) in objects):
            raise ManifestError(problems)
        # The tables the check computed are those of the Services now stored.
        allocations = {**self.state.allocations, svc.ALLOCATION_KEY: ips, "nodePorts": ports}
        state = State(objects=objects, sources=sources, pods=self.state.pods,
                      allocations=allocations, resource_version=self.state.resource_version,
                      deployments=self.state.deployments)
        return Staged(state, results, self.generation)

    def _with_account_uid(self, p: Prepared) -> Prepared:
        """A `default` ServiceAccount applied where none was takes the uid of the node's
        (incluster.default_account_uid): it updates that object, so the tokens of the
        namespace's running pods, which carry its uid, stay valid."""
        m = p.manifest
        if p.stored is None or p.previous is not None or (m.kind, m.name) != (
                "ServiceAccount", "default"):
            return p
        stored = copy.deepcopy(p.stored)
        stored["metadata"]["uid"] = accounts.current_default_account_uid(
            self.ctx.config.env, self.state.allocations, m.namespace)
        return replace(p, stored=stored, text=json.dumps(stored))

    def _commit(self, staged: Staged) -> list[Obj]:
        self.state.objects, self.state.sources = staged.state.objects, staged.state.sources
        for table in (svc.ALLOCATION_KEY, "nodePorts"):  # the sync loop owns the others
            self.state.allocations[table] = staged.state.allocations[table]
        self.generation += 1
        self._changed_after_commit()
        return staged.results

    def _changed_after_commit(self) -> None:
        """Act on a committed change. A failure here is the node's, not the request's: the
        objects are stored and the sync loop retries, so it is logged, not returned."""
        try:
            self._changed()
        except Exception:
            log.exception("acting on the change failed; the sync loop retries")

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
        after = {} if prune else dict(self.state.objects_by_kind("Service"))
        sources = dict(self.state.sources)
        given: dict[str, Manifest] = {}
        for m in manifests:
            if m.kind == "Service" and object_key(m.obj) == KUBERNETES_KEY:
                raise ManifestError([Problem(
                    m.file, m.line_of("metadata.name"), "Service", "kubernetes",
                    "metadata.name", "Service default/kubernetes is the environment's own: it "
                    "leads to the Kubernetes API, as the API server's does in a cluster; give "
                    "your Service another name")])
            if m.kind == "Service":
                after[object_key(m.obj)] = m.obj
                sources[object_key(m.obj)] = {"file": m.file, "line": m.line_of("spec.clusterIP")}
                given[object_key(m.obj)] = m
        ips, ports, problems = self._allocate(after, sources, given)
        if problems:
            raise ManifestError(problems)
        return ips, ports

    def _reallocate(self) -> None:
        """After a delete: free what the removed Services held."""
        services = dict(self.state.objects_by_kind("Service"))
        ips, ports, problems = self._allocate(services, self.state.sources, {})
        if problems:  # nothing new is asked for on delete; only a bug gets here
            log.error("allocation after delete: %s", "; ".join(map(str, problems)))
        self.state.allocations[svc.ALLOCATION_KEY] = ips
        self.state.allocations["nodePorts"] = ports

    def delete(self, keys: Sequence[str], grace: int | None = None,
               orphan: bool = False) -> list[Obj]:
        """Delete objects; `grace`: the pods' termination grace period (None: their own);
        `orphan`: what a deleted object owns stays (the API's propagationPolicy=Orphan)."""
        results = []
        for key in keys:
            if key == KUBERNETES_KEY:  # (never in the state: see Store.load)
                self._recreate_kubernetes_service()
                results.append(result(key, "deleted"))
                continue
            if key.startswith("Pod/") and grace is not None:
                self._hurry_terminating(key, grace)
            if key.startswith("Pod/") and key not in self.state.objects:
                _, namespace, name = key.split("/", 2)
                if f"{namespace}/{name}" in self.state.pods:
                    self._retire(f"{namespace}/{name}", grace)
                    results.append(result(key, "deleted"))
                    continue
            if key.startswith("Pod/") and key in self.state.objects and grace is not None:
                _, namespace, name = key.split("/", 2)
                self._retire(f"{namespace}/{name}", grace)
            if key.startswith("ServiceAccount/") and key.endswith("/default"):
                self._recreate_default_account(key)  # (the node's own: deleted, made again)
                if key not in self.state.objects:
                    results.append(result(key, "deleted"))
                    continue
            if orphan:
                self._orphan_dependents(key)
            if key not in self.state.objects:
                results.append(result(key, "not found"))
                continue
            results.append(self._remove_object(key))
            if key.startswith("Namespace//"):
                namespace = key.split("/", 2)[2]
                for other in [k for k in self.state.objects if k.split("/")[1] == namespace]:
                    results.append(self._remove_object(other))
        self._reallocate()
        self.generation += 1
        self.store.save(self.state)
        self._changed_after_commit()
        return results

    def scale(self, namespace: str, name: str, replicas: int, kind: str = "Deployment") -> Obj:
        if not 0 <= replicas <= MAX_REPLICAS:  # the same limit as spec.replicas in a manifest
            raise LocalsvcError(f"replicas must be between 0 and {MAX_REPLICAS} in localsvc "
                                f"(got {replicas}): every replica is a pod on this one engine")
        key = key_of(kind, namespace, name)
        if (obj := self.state.objects.get(key)) is None:
            raise NotFound(f'{kind.lower()} "{name}" not found in namespace "{namespace}"')
        obj = copy.deepcopy(obj)  # stored objects are replaced, never changed in place
        obj["spec"]["replicas"] = replicas
        obj["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
        self.state.objects[key] = obj
        self.generation += 1
        self.store.save(self.state)
        self._changed_after_commit()
        return result(key, "scaled")

    def restart_image(self, image: str) -> list[Obj]:
        """Roll every Deployment, StatefulSet and DaemonSet, re-create every bare Pod that runs
        `image` (rebuilt)."""
        results = []
        restarts = self.state.allocations.setdefault("restarts", {})
        for key, obj in list(self.state.objects.items()):
            if obj["kind"] not in ROLLING_KINDS and obj["kind"] != "Pod":
                continue
            try:
                spec = obj["spec"]["template"]["spec"] if obj["kind"] != "Pod" \
                    else obj["spec"]
                images = {c.get("image") for c in [*(spec.get("containers") or []),
                                                   *(spec.get("initContainers") or [])]}
            except (KeyError, TypeError, AttributeError):
                continue  # a malformed stored object runs no image; its problem is reported
            if image not in images:
                continue
            if obj["kind"] != "Pod":  # a workload rolls its pods (a restart token, see views)
                restarts[key] = now_iso() + f"#{time.time_ns()}"
            else:  # a new pod, as after delete+create (a new object: never changed in place)
                obj = copy.deepcopy(obj)
                obj["metadata"]["uid"] = str(uuid.uuid4())
                self.state.objects[key] = obj
            results.append(result(key, "restarted"))
        self.generation += 1
        self.store.save(self.state)
        self._changed_after_commit()
        return results

    def _hurry_terminating(self, pod_key: str, grace: int) -> None:
        """A pod already terminating under the same name stops within `grace` now (a force
        delete of a Terminating pod)."""
        _, namespace, name = pod_key.split("/", 2)
        for worker in self.terminating.values():
            if (worker.record.namespace, worker.record.name) == (namespace, name):
                worker.stop(grace)

    def _orphan_dependents(self, owner_key: str) -> None:
        """What `owner_key` owns loses it as owner: stored objects (a StatefulSet's claims and
        revisions, a CronJob's Jobs) its ownerReference, so no collector removes them; its
        pods become bare Pods, stored with their own uid (their workers are kept)."""
        owner = (self.state.objects.get(owner_key) or {}).get("metadata") or {}
        self.state.objects.update(disowned(self.state.objects, str(owner.get("uid") or "")))
        for pod_key, record in self.state.pods.items():
            if record.owner != owner_key:
                continue
            obj = copy.deepcopy(record.obj)
            obj["metadata"].pop("ownerReferences", None)
            record.owner, record.obj = None, obj
            self.state.objects[key_of("Pod", record.namespace, record.name)] = obj
            self.state.sources[key_of("Pod", record.namespace, record.name)] = {
                "file": "", "line": None}
            log.info("pod %s orphaned by the deletion of %s", pod_key, owner_key)

    def _recreate_default_account(self, key: str) -> None:
        """Deleted, a namespace's `default` ServiceAccount comes back with a new uid, as the
        cluster's controller re-creates it (kubectl delete waits for the uid to go)."""
        namespace = key.split("/")[1]
        table = self.state.allocations.setdefault(accounts.RECREATED_ACCOUNTS, {})
        table[namespace] = accounts.recreated_count(self.state.allocations, namespace) + 1
        self.publisher.forget(key)

    def _recreate_kubernetes_service(self) -> None:
        """Deleted, the `kubernetes` Service comes back as a new object (a new uid) at the next
        publish, as the API server re-creates it."""
        self.objects.delete(KUBERNETES_KEY)
        self.publisher.forget(KUBERNETES_KEY)

    def _remove_object(self, key: str) -> Obj:
        self.state.objects.pop(key, None)
        self.state.sources.pop(key, None)
        return result(key, "deleted")
