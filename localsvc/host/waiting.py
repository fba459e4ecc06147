"""`up --wait` / Environment.wait_ready: poll the environment's Kubernetes API until every pod
is Ready (or Succeeded), every Deployment, StatefulSet and DaemonSet rolled out, every Job
complete and the Services route to the ready pods; a failed Job ends the wait at once with its
reason and its pods' last log lines (the migration Job before the app). The rules are in host/readiness.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localsvc.errors import LocalsvcError, Timeout
from localsvc.host.podstatus import pod_ready
from localsvc.host.readiness import (
    ROUTING_SUMMARY,
    WaitedJob,
    daemonset_rolled_out,
    daemonsets_summary,
    endpoints_cover_ready_pods,
    failed_job_message,
    job_pods,
    jobs_summary,
    pods_summary,
    rolled_out,
    statefulset_ready,
    waited_jobs,
    waited_pods,
    workloads_summary,
)

Obj = dict[str, Any]
LOG_LINES = 20  # the last lines of each container of a failed Job's pods


def wait_ready(env: Any, timeout: float) -> None:
    """Wait until `env` (an Environment) is ready; Timeout naming what is not, or
    LocalsvcError when a Job failed."""
    deadline = time.monotonic() + timeout
    last = ""
    read_jobs = True
    while True:
        # Jobs first, so that a failed one ends the wait at once. Nothing is applied during a
        # wait and no controller creates a waited-for Job (a CronJob's are not waited for):
        # when the first round found none, later rounds do not list them every 0.2 s.
        jobs = waited_jobs(_all(env, "jobs")) if read_jobs else []
        read_jobs = bool(jobs)
        for job in jobs:
            if job.outcome == "Failed":
                raise LocalsvcError(failed_job_message(job.obj, _logs(env, job_pods(
                    job.obj, _live(_all(env, "pods"))))))
        summary = first_waiting(lambda kind: _all(env, kind), jobs,
                                lambda pods: _routed(env, pods))
        if summary is None:
            return
        if summary != last:
            env.progress(summary)
            last = summary
        if time.monotonic() > deadline:
            raise Timeout(f"not ready after {timeout:.0f}s: " + summary.split(": ", 1)[1])
        time.sleep(0.2)


def first_waiting(list_all: Callable[[str], list[Obj]], jobs: list[WaitedJob],
                  routed: Callable[[list[Obj]], bool]) -> str | None:
    """The summary of the first stage not ready, None when all are: the pods (but a Job's),
    then the Deployments and StatefulSets, the DaemonSets, the running `jobs`, and the
    routing to the pods (`routed`). A stage is read only when those before it are ready:
    `list_all` lists a kind in every namespace."""
    pods = waited_pods(_live(list_all("pods")))
    waiting = [p for p in pods if not pod_ready(p)]
    if waiting:
        return pods_summary(waiting, len(pods))
    short = [d for d in list_all("deployments") if not rolled_out(d)]
    short += [s for s in list_all("statefulsets") if not statefulset_ready(s)]
    if short:
        return workloads_summary(short)
    daemons = [d for d in list_all("daemonsets") if not daemonset_rolled_out(d)]
    if daemons:
        return daemonsets_summary(daemons)
    running = [j.obj for j in jobs if j.outcome is None]
    if running:
        return jobs_summary(running)
    return None if routed(pods) else ROUTING_SUMMARY


def _all(env: Any, kind: str) -> list[Obj]:
    return list(env.get(kind, namespace=None))


def _live(pods: list[Obj]) -> list[Obj]:
    """Without the pods being deleted (their grace period is not waited for)."""
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _routed(env: Any, pods: list[Obj]) -> bool:
    """Ready pods are their Services' endpoints, and the node's dataplane applied that."""
    endpoints = env.get("endpoints", namespace=None)
    if not endpoints_cover_ready_pods(pods, endpoints, env.get("services", namespace=None)):
        return False
    status = env.node().get("/v1/status")  # after the endpoints: a newer state shows here
    applied, latest = status.get("appliedVersion"), status.get("snapshotVersion")
    return applied is None or latest is None or applied >= latest


def _logs(env: Any, pods: list[Obj]) -> list[tuple[str, str, str]]:
    """(pod, container, its last LOG_LINES lines) for each container of `pods` that ran."""
    out = []
    for pod in pods:
        meta = pod["metadata"]
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if not status.get("containerID"):
                continue
            try:
                text = b"".join(env.logs(meta["name"], status["name"], meta.get(
                    "namespace", "default"), tail=LOG_LINES)).decode(errors="replace")
            except LocalsvcError as err:
                text = f"(no logs: {err})"
            out.append((meta["name"], status["name"], text))
    return out


__all__ = ["LOG_LINES", "first_waiting", "wait_ready"]
