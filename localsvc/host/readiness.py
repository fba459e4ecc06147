"""When the host may call an environment ready: pure rules over the objects it read from the
Kubernetes API (Environment.wait_ready reads them)."""

from __future__ import annotations

from typing import Any

from localsvc.host.podstatus import deployment_complete, pod_ready, pod_reason
from localsvc.model.endpoints import selector_matches

Obj = dict[str, Any]


def rolled_out(deployment: Obj) -> bool:
    """The Deployment's controller has seen its latest spec (status.observedGeneration, as
    `kubectl rollout status` checks first) and has every replica updated and ready. Without
    the first check, the status of the previous spec right after an apply looks complete and
    a wait returns before the rollout has begun."""
    meta, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    observed = int(status.get("observedGeneration") or 0)
    return observed >= int(meta.get("generation") or 0) and deployment_complete(deployment)


def statefulset_ready(statefulset: Obj) -> bool:
    """The StatefulSet's controller has seen its latest spec and every replica is ready and,
    for a rolling update, updated from the partition up (what `kubectl rollout status`
    waits for)."""
    meta, spec = statefulset.get("metadata") or {}, statefulset.get("spec") or {}
    status = statefulset.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False
    replicas = int(spec.get("replicas", 1))
    if int(status.get("readyReplicas") or 0) < replicas or int(status.get("replicas") or 0) \
            != replicas:
        return False
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return True
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    return int(status.get("updatedReplicas") or 0) >= replicas - partition


def sets_waiting(statefulsets: list[Obj]) -> list[Obj]:
    """The StatefulSets not ready yet, each with its kind (for waiting_summary)."""
    return [{**s, "kind": "StatefulSet"} for s in statefulsets if not statefulset_ready(s)]


def endpoints_cover_ready_pods(pods: list[Obj], endpoints: list[Obj],
                               services: list[Obj]) -> bool:
    """Every ready pod with an IP that a Service selects is a ready address of the Service's
    Endpoints. Pod readiness is reported live while endpoints follow on the next sync, so
    ready pods alone do not mean a first request to a Service reaches them."""
    ready = [p for p in pods if pod_ready(p) and (p.get("status") or {}).get("podIP")]
    addresses = {
        (e["metadata"].get("namespace"), e["metadata"]["name"]):
            {a["ip"] for s in e.get("subsets") or [] for a in s.get("addresses") or []}
        for e in endpoints
    }
    for svc in services:
        selector, namespace = svc["spec"].get("selector"), svc["metadata"].get("namespace")
        if not selector:
            continue
        wanted = {p["status"]["podIP"] for p in ready if p["metadata"].get("namespace") == namespace
                  and selector_matches(selector, p["metadata"].get("labels") or {})}
        if not wanted <= addresses.get((namespace, svc["metadata"]["name"]), set()):
            return False
    return True


def waiting_summary(waiting: list[Obj], pod_count: int, short: list[Obj]) -> str:
    """What a wait reports: the pods not ready (five at most, with their STATUS), else the
    workloads not rolled out (Deployments, StatefulSets: by their `kind`, Deployment if none)."""
    if waiting:
        return f"waiting for {len(waiting)}/{pod_count} pods: " + ", ".join(
            f"{p['metadata']['name']} ({pod_reason(p)})" for p in waiting[:5])
    groups: dict[str, list[str]] = {}
    for workload in short:
        kind = str(workload.get("kind") or "Deployment").lower()
        groups.setdefault(f"{kind}s", []).append(workload["metadata"]["name"])
    return "waiting for " + "; ".join(f"{k}: {', '.join(v)}" for k, v in groups.items())
