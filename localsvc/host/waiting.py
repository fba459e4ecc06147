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
    daemonset_rolled_out,
    endpoints_cover_ready_pods,
    failed_job_message,
    job_pods,
    rolled_out,
    sets_waiting,
    waited_jobs,
    waited_pods,
    waiting_summary,
)

Obj = dict[str, Any]
LOG_LINES = 20  # the last lines of each container of a failed Job's pods


def wait_ready(env: Any, timeout: float) -> None:
    """Wait until `env` (an Environment) is ready; Timeout naming what is not, or
    LocalsvcError when a Job failed."""
    deadline = time.monotonic() + timeout
    last = ""
    lists = KindLists(lambda kind: list(env.get(kind, namespace=None)))
    while True:
        all_pods = [p for p in env.get("pods", namespace=None)
                    if not p["metadata"].get("deletionTimestamp")]
        jobs = waited_jobs(lists.get("jobs"))
        for job in jobs:
            if job.outcome == "Failed":
                raise LocalsvcError(failed_job_message(job.obj, _logs(env, job_pods(
                    job.obj, all_pods))))
        pods = waited_pods(all_pods)
        waiting = [p for p in pods if not pod_ready(p)]
        short = [d for d in lists.get("deployments") if not rolled_out(d)]
        short += sets_waiting(lists.get("statefulsets"))
        daemons = [d for d in lists.get("daemonsets") if not daemonset_rolled_out(d)]
        running = [j.obj for j in jobs if j.outcome is None]
        if not waiting and not short and not daemons and not running and _routed(env, pods):
            return
        summary = waiting_summary(waiting, len(pods), short, running, daemons)
        if summary != last:
            env.progress(summary)
            last = summary
        if time.monotonic() > deadline:
            raise Timeout(f"not ready after {timeout:.0f}s: " + summary.split(": ", 1)[1])
        time.sleep(0.2)


class KindLists:
    """The workload lists a wait reads each round, without the kinds the environment had none
    of at the first round: nothing is applied during a wait, and no controller creates
    Deployments, StatefulSets, DaemonSets or waited-for Jobs (a CronJob's Jobs are not waited
    for), so an empty kind stays empty and is not listed again every 0.2 s."""

    def __init__(self, list_all: Callable[[str], list[Obj]]) -> None:
        self.list_all = list_all  # a kind -> its objects in every namespace
        self.absent: set[str] = set()
        self.seen: set[str] = set()

    def get(self, kind: str) -> list[Obj]:
        if kind in self.absent:
            return []
        objs = self.list_all(kind)
        if not objs and kind not in self.seen:
            self.absent.add(kind)
        self.seen.add(kind)
        return objs


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


__all__ = ["LOG_LINES", "KindLists", "wait_ready"]
