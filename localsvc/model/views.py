"""The node's objects as the Kubernetes API shows them, as pure functions: a pod with its status,
a Deployment's status, a Service with its allocations, the Namespaces, and the problems an
object carries. No I/O and no controller: node/views.py gathers the inputs from the
controller's tables and calls these.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from localsvc.model.clock import rfc3339_seconds
from localsvc.model.load import ObjectKey
from localsvc.model.objects import now_iso
from localsvc.model.replicasets import PodCounts, surge_and_unavailable
from localsvc.model.snapshot import Unserved

Obj = dict[str, Any]
SERVED_CONDITION = "localsvc.io/Served"
PROBLEMS_ANNOTATION = "localsvc.io/problems"


def object_key(obj: Obj) -> str:
    """The state key ("Kind/namespace/name") of an object."""
    return ObjectKey.of(obj).id


def problems_by_object(problems: list[Unserved]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.object, []).append(problem.message)
    return found


def with_problems(view: Obj, messages: list[str]) -> Obj:
    """`view` carrying what the node could not serve of it: a False Served condition in status
    (Services) or an annotation (objects without status, such as Endpoints)."""
    if not messages:
        return view
    text = "; ".join(messages)
    if view.get("kind") == "Service":
        status = view.setdefault("status", {})
        status.setdefault("conditions", []).append({
            "type": SERVED_CONDITION, "status": "False", "reason": "UnservableObject",
            "message": text})
    else:
        meta = view.setdefault("metadata", {})
        annotations = dict(meta.get("annotations") or {})
        earlier = annotations.get(PROBLEMS_ANNOTATION)
        annotations[PROBLEMS_ANNOTATION] = f"{earlier}; {text}" if earlier else text
        meta["annotations"] = annotations
    return view


def service_object(obj: Obj, cluster_ip: str | None, node_ports: Mapping[str, int] | None = None,
                   ingress_ip: str | None = None, pending: str | None = None) -> Obj:
    """A Service as a cluster returns it: spec.clusterIP and nodePorts set from the node's
    allocations, status.loadBalancer.ingress for a LoadBalancer that holds its host ports. (Its
    defaults are stored with it: model/defaults.py.)"""
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    if spec.get("type", "ClusterIP") != "ExternalName":
        ip = "None" if spec.get("clusterIP") == "None" else cluster_ip
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip] if ip else []
    for port in spec.get("ports") or []:
        allocated = (node_ports or {}).get(f"{port.get('port')}/{port.get('protocol', 'TCP')}")
        if allocated:
            port["nodePort"] = allocated
    out["status"] = {"loadBalancer": {}}
    if ingress_ip:
        out["status"]["loadBalancer"]["ingress"] = [{"ip": ingress_ip, "ipMode": "VIP"}]
    if pending:
        out["status"]["conditions"] = [{"type": "localsvc.io/HostPortsPublished", "status": "False",
                                        "reason": "HostPortUnavailable", "message": pending}]
    return out


def pod_object(stored: Obj, status: Obj | None, deleting_since: float | None) -> Obj:
    """A pod as the API shows it: `status` from its worker (None: no worker yet, Pending), and
    a deletionTimestamp while it terminates."""
    obj = copy.deepcopy(stored)
    obj.setdefault("apiVersion", "v1")
    obj.setdefault("kind", "Pod")
    obj.setdefault("spec", {})["nodeName"] = "localsvc"
    obj["status"] = status if status is not None else {"phase": "Pending"}
    if deleting_since:
        obj["metadata"]["deletionTimestamp"] = now_iso(deleting_since)
    return obj


DEFAULT_PROGRESS_DEADLINE = 600
_NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
_TIMED_OUT = "ProgressDeadlineExceeded"


def _condition(type_: str, status: str, reason: str, message: str, now: float) -> Obj:
    stamp = now_iso(now)
    return {"type": type_, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


def _set_condition(conditions: list[Obj], condition: Obj) -> list[Obj]:
    """SetDeploymentCondition: the same status and reason change nothing; the same status
    keeps its lastTransitionTime; the condition set moves to the end."""
    current = next((c for c in conditions if c["type"] == condition["type"]), None)
    if current is not None and current["status"] == condition["status"] \
            and current.get("reason") == condition["reason"]:
        return conditions
    if current is not None and current["status"] == condition["status"]:
        condition = {**condition, "lastTransitionTime": current["lastTransitionTime"]}
    return [c for c in conditions if c["type"] != condition["type"]] + [condition]


def _progressing(previous: Obj, fresh: Obj) -> bool:
    """DeploymentProgressing: more updated, ready or available pods, or fewer old ones."""
    def old(status: Obj) -> int:
        return int(status.get("replicas", 0)) - int(status.get("updatedReplicas", 0))
    return any(int(fresh.get(f, 0)) > int(previous.get(f, 0))
               for f in ("updatedReplicas", "readyReplicas", "availableReplicas")) \
        or old(fresh) < old(previous)


def rollout_status(obj: Obj, new_rs: str, new: PodCounts, old: PodCounts,
                   previous: Obj | None, created_new_rs: bool, now: float) -> Obj:
    """A Deployment's status after one sync of the deployment controller (syncRolloutStatus):
    counts from its new ReplicaSet `new_rs` (`new`) and the older ones (`old`), conditions
    carried over from `previous` (the status last published, None at first), Progressing
    NewReplicaSetCreated when this sync created `new_rs`, FoundNewReplicaSet when it finds
    one with no Progressing condition yet."""
    spec, meta = obj.get("spec") or {}, obj["metadata"]
    previous = previous or {}
    replicas = int(spec.get("replicas", 1))
    deadline = spec.get("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE)
    has_deadline = deadline is not None and int(deadline) != 2**31 - 1
    conditions: list[Obj] = [dict(c) for c in previous.get("conditions") or []]
    if has_deadline and created_new_rs:
        conditions = _set_condition(conditions, _condition(
            "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{new_rs}"',
            now))
    elif has_deadline and not any(c["type"] == "Progressing" for c in conditions):
        conditions = _set_condition(conditions, _condition(
            "Progressing", "True", "FoundNewReplicaSet", f'Found new replica set "{new_rs}"', now))
    # The conditions the controller read this sync (getNewReplicaSet updated them first).
    current = next((c for c in conditions if c["type"] == "Progressing"), None)
    if created_new_rs:  # a ReplicaSet just created has no pods observed in its status yet
        new = PodCounts()
    available = new.available + old.available
    total = new.replicas + old.replicas
    status: Obj = {
        "observedGeneration": int(meta.get("generation") or 1),
        "replicas": total,
        "updatedReplicas": new.replicas,
        "readyReplicas": new.ready + old.ready,
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    _, max_unavailable = surge_and_unavailable(spec)
    if available >= replicas - max_unavailable:
        conditions = _set_condition(conditions, _condition(
            "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.",
            now))
    else:
        conditions = _set_condition(conditions, _condition(
            "Available", "False", "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.", now))
    if not has_deadline:
        conditions = [c for c in conditions if c["type"] != "Progressing"]
    complete_before = current is not None and current.get("reason") == _NEW_RS_AVAILABLE \
        and total == new.replicas
    if has_deadline and not complete_before:
        if new.replicas == replicas and total == replicas and available == replicas:
            conditions = _set_condition(conditions, _condition(
                "Progressing", "True", _NEW_RS_AVAILABLE,
                f'ReplicaSet "{new_rs}" has successfully progressed.', now))
        elif _progressing(previous, status):
            condition = _condition("Progressing", "True", "ReplicaSetUpdated",
                                   f'ReplicaSet "{new_rs}" is progressing.', now)
            if current is not None and current["status"] == "True":
                condition["lastTransitionTime"] = current["lastTransitionTime"]
            conditions = [c for c in conditions if c["type"] != "Progressing"] + [condition]
        elif _timed_out(current, int(deadline), now):
            conditions = _set_condition(conditions, _condition(
                "Progressing", "False", _TIMED_OUT,
                f'ReplicaSet "{new_rs}" has timed out progressing.', now))
    status["conditions"] = conditions
    return status


def _timed_out(current: Obj | None, deadline: int, now: float) -> bool:
    """DeploymentTimedOut: no progress for `deadline` seconds since the Progressing
    condition was last updated (never once the rollout completed)."""
    if current is None or current.get("reason") == _NEW_RS_AVAILABLE:
        return False
    if current.get("reason") == _TIMED_OUT:
        return True
    updated = rfc3339_seconds(str(current.get("lastUpdateTime", "")))
    return updated is not None and updated + deadline < now


def namespace_objects(declared: Iterable[Obj], used: Iterable[str], created: str) -> list[Obj]:
    """The Namespaces: those applied, and each one an object or pod is in (shown as if
    created with the node, `created`), all Active, by name."""
    by_name = {o["metadata"]["name"]: o for o in declared}
    out = []
    for name in sorted(set(used) | set(by_name)):
        obj: Obj = copy.deepcopy(by_name[name]) if name in by_name else {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name},
        }
        obj["status"] = {"phase": "Active"}
        obj["metadata"].setdefault("creationTimestamp", created)
        out.append(obj)
    return out


__all__ = ["PROBLEMS_ANNOTATION", "SERVED_CONDITION", "namespace_objects",
           "object_key", "pod_object", "problems_by_object", "rollout_status", "service_object", "with_problems"]
