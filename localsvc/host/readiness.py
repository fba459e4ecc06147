"""When the host may call an environment ready: pure rules over the objects it read from the
Kubernetes API (Environment.wait_ready reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localsvc.host.podstatus import deployment_complete, pod_ready, pod_reason
from localsvc.model.endpoints import selector_matches
from localsvc.model.jobs import job_finished

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


def daemonset_rolled_out(ds: Obj) -> bool:
    """kubectl rollout status ds's rule: the latest spec observed, every node's pod updated
    and available."""
    meta, status = ds.get("metadata") or {}, ds.get("status") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    return (int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
            and "desiredNumberScheduled" in status
            and int(status.get("updatedNumberScheduled") or 0) >= desired
            and int(status.get("numberAvailable") or 0) >= desired)


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


def pods_summary(waiting: list[Obj], pod_count: int) -> str:
    """The pods not ready (five at most, with their STATUS) of the `pod_count` waited for."""
    return f"waiting for {len(waiting)}/{pod_count} pods: " + ", ".join(
        f"{p['metadata']['name']} ({pod_reason(p)})" for p in waiting[:5])


def workloads_summary(workloads: list[Obj]) -> str:
    """The Deployments and StatefulSets not rolled out, grouped by their `kind` (every object
    the host reads carries it)."""
    groups: dict[str, list[str]] = {}
    for workload in workloads:
        groups.setdefault(f"{str(workload['kind']).lower()}s", []).append(
            workload["metadata"]["name"])
    return "waiting for " + "; ".join(f"{k}: {', '.join(v)}" for k, v in groups.items())


def daemonsets_summary(daemonsets: list[Obj]) -> str:
    return "waiting for daemonsets: " + ", ".join(d["metadata"]["name"] for d in daemonsets)


def jobs_summary(jobs: list[Obj]) -> str:
    return "waiting for jobs to complete: " + ", ".join(j["metadata"]["name"] for j in jobs)


ROUTING_SUMMARY = "waiting for routing: the Services' endpoints and the node's dataplane"


def _owner_kind(obj: Obj) -> str | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((str(r.get("kind")) for r in refs if r.get("controller")), None)


@dataclass(frozen=True)
class WaitedJob:
    obj: Obj
    outcome: str | None  # "Complete", "Failed", or None while it runs


def waited_jobs(jobs: list[Obj]) -> list[WaitedJob]:
    """The Jobs a wait waits for: all but a CronJob's (a schedule is not waited for)."""
    return [WaitedJob(j, job_finished(j)) for j in jobs if _owner_kind(j) != "CronJob"]


def waited_pods(pods: list[Obj]) -> list[Obj]:
    """The pods that must be Ready: a Job's pods are not (their Job is waited for instead: a
    failed attempt is an Error pod while the Job retries)."""
    return [p for p in pods if _owner_kind(p) != "Job"]


def job_pods(job: Obj, pods: list[Obj]) -> list[Obj]:
    """The pods of `job` (by its uid in their ownerReferences), oldest first."""
    uid = job["metadata"].get("uid")
    mine = [p for p in pods if any(r.get("uid") == uid for r in
                                  p["metadata"].get("ownerReferences") or [])]
    return sorted(mine, key=lambda p: p["metadata"].get("creationTimestamp") or "")


def failed_job_message(job: Obj, logs: list[tuple[str, str, str]]) -> str:
    """Why the wait failed: the Job, its Failed condition's reason and message, and the last
    lines each of its pods' containers logged ((pod, container, text) in `logs`)."""
    meta = job["metadata"]
    failed: Obj = next((c for c in (job.get("status") or {}).get("conditions") or []
                   if c.get("type") == "Failed"), {})
    lines = [f"job/{meta['name']} (namespace {meta.get('namespace', 'default')}) failed: "
             f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}"]
    for pod, container, text in logs:
        lines.append(f"--- pod {pod}, container {container}, last lines of its log:")
        lines += ["    " + line for line in text.rstrip("\n").splitlines()] or ["    (empty)"]
    if not logs:
        lines.append("(none of its pods has logs)")
    return "\n".join(lines)
