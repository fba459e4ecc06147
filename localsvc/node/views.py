"""The node's objects as the Kubernetes API shows them: pods with status, Services with their
allocations, derived Endpoints/EndpointSlices, Namespaces, Deployments with status.

A mixin of the Controller (it reads the controller's state and workers, changes nothing). One
stored object that cannot be shown as usual is shown as stored, with a condition saying why,
never failing the whole list: `localsvc status` and `get` must work to report a bad object.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from localsvc.model import deployments as dep
from localsvc.model.objects import (
    BUILTIN_NAMESPACES,
    NAMESPACED,
    api_version_of,
    secret_for_output,
)
from localsvc.model.snapshot import Snapshot, Unserved
from localsvc.model.views import (
    PROBLEMS_ANNOTATION,
    SERVED_CONDITION,
    namespace_objects,
    object_key,
    pod_object,
    problems_by_object,
    service_object,
    with_problems,
)
from localsvc.node import services as svc
from localsvc.node import svclb
from localsvc.node.context import NodeContext
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord, State

log = logging.getLogger("localsvc.views")
Obj = dict[str, Any]
# Kinds whose status their controller's last sync computed (Controller.workload_statuses).
SYNCED_STATUS_KINDS = frozenset({"Job", "CronJob", "DaemonSet", "StatefulSet"})


class ObjectViews:
    """Reading, Kubernetes-shaped. Attributes are the Controller's."""

    ctx: NodeContext
    state: State
    snapshot: Snapshot
    workers: dict[str, PodWorker]
    terminating: dict[str, PodWorker]
    finalizing: dict[str, Obj]  # deleted objects served until their pods are gone
    started: str
    dns_ip: str
    lb_pending: dict[str, str]
    workload_statuses: dict[str, Obj]  # workload key -> the status its last sync computed
    svclb_errors: dict[str, str]
    _svclb_applied: dict[str, svclb.SvclbSpec] | None

    def problems(self) -> list[Unserved]:
        raise NotImplementedError  # the Controller's

    def _template_hash(self, dkey: str, template: Obj) -> str:
        """The pod-template-hash, including a restart token when the Deployment was restarted
        (a rebuilt image: same template, new pods), like `kubectl rollout restart`."""
        token = (self.state.allocations.get("restarts") or {}).get(dkey)
        return dep.template_hash({**template, "restartedAt": token} if token else template)

    def _ready(self, record: PodRecord) -> bool:
        worker = self.workers.get(record.uid)
        return bool(worker and worker.state.ready)

    @property
    def allocations(self) -> dict[str, str]:
        return self.state.allocations.setdefault(svc.ALLOCATION_KEY, {})

    @property
    def node_ports(self) -> dict[str, dict[str, int]]:
        return self.state.allocations.setdefault("nodePorts", {})

    def rendered_objects(self, kind: str, namespace: str | None) -> list[Obj]:
        """The objects of `kind` rendered from the controller's state: what is published into
        the store (clients read the store, see StorePublishing.list_objects)."""
        if kind == "Pod":
            items = self._pods()
        elif kind == "Namespace":
            items = self._namespaces()
        elif kind == "Service":
            found = problems_by_object(self.problems())
            items = [svc.kube_dns_object(self.dns_ip, self.started)] + [
                self._shown(o, lambda o: self._service_view(o, found))
                for o in self.state.objects_of("Service")]
        elif kind == "Endpoints":
            items = svc.endpoints_view(self.snapshot, self.state.objects, self._created())
        elif kind == "EndpointSlice":
            items = svc.endpoint_slices_view(self.snapshot, self.state.objects, self._created())
        else:
            items = [self._shown(o, self._with_status) for o in self.state.objects_of(kind)]
        if kind not in ("Service", "Namespace"):  # a Service carries its own (a condition)
            found = problems_by_object(self.problems())
            for item in items:
                meta = item.get("metadata") or {}
                key = f"{kind}/{meta.get('namespace', 'default')}/{meta.get('name')}"
                with_problems(item, found.get(key, []))
        if namespace is not None and kind != "Namespace":
            items = [o for o in items if o["metadata"].get("namespace") == namespace]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def _shown(self, obj: Obj, view: Any) -> Obj:
        """view(obj), or the object as stored with why it could not be shown as usual."""
        try:
            return dict(view(obj))
        except Exception as err:
            log.warning("cannot show %s: %r", object_key(obj), err)
            return with_problems(copy.deepcopy(obj), [f"malformed stored object: {err!r}"])

    def _pods(self) -> list[Obj]:
        out = []
        for record in self.state.pods.values():
            out.append(self._pod_object(record, self.workers.get(record.uid), False))
        for worker in self.terminating.values():
            if not worker.done.is_set():
                out.append(self._pod_object(worker.record, worker, True))
        return out

    def _pod_object(self, record: PodRecord, worker: PodWorker | None, deleting: bool) -> Obj:
        status = worker.k8s_status() if worker is not None else None
        since = worker.deleting_since if worker is not None and deleting else None
        return pod_object(record.obj, status, since)

    def _created(self) -> dict[str, str]:
        """Service key -> creationTimestamp, for the Endpoints/EndpointSlices derived from it."""
        created = {svc.service_key(o): o["metadata"].get("creationTimestamp", "")
                   for o in self.state.objects_of("Service")}
        created["kube-system/kube-dns"] = self.started
        return created

    def _service_view(self, obj: Obj, found: dict[str, list[str]]) -> Obj:
        key = svc.service_key(obj)
        is_lb = (obj.get("spec") or {}).get("type") == "LoadBalancer"
        pending = self.lb_pending.get(key) or self.svclb_errors.get(key)
        ingress = self.ctx.config.host_address if is_lb and not pending and \
            self._svclb_applied is not None and key in self._svclb_applied else None
        view = service_object(obj, self.allocations.get(key), self.node_ports.get(key),
                                  ingress_ip=ingress, pending=pending)
        return with_problems(view, found.get(f"Service/{key}", [])
                             + found.get(f"Endpoints/{key}", []))

    def _namespaces(self) -> list[Obj]:
        used = set(BUILTIN_NAMESPACES)
        for obj in self.state.objects.values():
            if obj["kind"] in NAMESPACED:
                used.add(obj["metadata"].get("namespace", "default"))
        used |= {r.namespace for r in self.state.pods.values()}
        # A deleted namespace is served Terminating until its pods are gone (node/finalizing.py).
        emptying = {o["metadata"]["name"]: o for k, o in self.finalizing.items()
                    if k.startswith("Namespace/")}
        served = namespace_objects(self.state.objects_of("Namespace"), used - set(emptying),
                                   self.started)
        return sorted([*served, *emptying.values()], key=lambda o: o["metadata"]["name"])

    def _with_status(self, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out.setdefault("apiVersion", api_version_of(out["kind"]))
        if out["kind"] == "Secret":
            out = secret_for_output(out)
        elif out["kind"] == "Deployment":
            out["status"] = self._deployment_status(out)
        elif out["kind"] in SYNCED_STATUS_KINDS:
            out["status"] = dict(self.workload_statuses.get(object_key(out)) or {})
        return out

    def _deployment_status(self, obj: Obj) -> Obj:
        """The status the deployment controller's last sync of `obj` computed
        (node/deploymentsync.py); none before its first sync."""
        history = self.state.deployments.get(object_key(obj))
        return dict(history.status) if history is not None and history.status else {}


__all__ = ["PROBLEMS_ANNOTATION", "SERVED_CONDITION", "ObjectViews", "object_key",
           "problems_by_object", "with_problems"]
