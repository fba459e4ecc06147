"""Workloads a clock moves are synced when their clock comes, not on every loop: each step's
`pending` maps an object to its wake time (a CronJob's next start time, a finished Job's TTL, a
rollout's minReadySeconds or progress deadline), the loop waits no longer than the earliest,
and a Job's events wake its CronJob."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from localsvc.model import cronjobs as cron
from localsvc.model.clock import iso_time
from localsvc.node import podworker
from localsvc.node.deploymentsync import rollout_wake
from localsvc.node.workloads import WorkloadStep, earliest_wake, wait_seconds
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
NOON = 1_700_000_000.0 - 1_700_000_000.0 % 3600 + 12 * 60 + 30  # hh:12:30 UTC


@pytest.mark.parametrize("earliest, now, deadline", [
    (NOON - 10, NOON, None),  # none due yet
    (NOON - 60, NOON, None),  # one due
    (NOON - 86_400, NOON, None),  # many missed
    (NOON - 86_400, NOON, 200),  # a starting deadline narrows them
    (NOON + 600, NOON, None),  # a last schedule in the future (the clock went back)
])
def test_the_following_start_time_is_the_first_after_now(
        earliest: float, now: float, deadline: int | None) -> None:
    for schedule in ("* * * * *", "*/5 * * * *", "@hourly", "0 0 * * 0"):
        recent = cron.most_recent_schedule(schedule, None, earliest, now, deadline)
        assert recent.following == cron.next_after(schedule, None, now)
        assert recent.following > now


def test_plan_wakes_at_the_next_start_time_from_the_times_it_computed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = cron.next_after

    def counting(schedule: str, zone: str | None, moment: float) -> float:
        calls.append(moment)
        return real(schedule, zone, moment)

    monkeypatch.setattr(cron, "next_after", counting)
    spec = cron.CronSpec("*/5 * * * *")
    step = cron.plan_cronjob(spec, "tick", cron.CronMemory(), [], NOON - 3, NOON)
    assert step.create is None and step.wake_at == NOON - 150 + 300  # hh:15:00
    assert len(calls) == 1  # one croniter, not a second for the wake time
    calls.clear()
    step = cron.plan_cronjob(spec, "tick", cron.CronMemory(), [], NOON - 400, NOON)
    assert step.create == NOON - 150 and step.wake_at == NOON + 150
    assert len(calls) == 2
    suspended = cron.CronSpec("*/5 * * * *", suspend=True)
    assert cron.plan_cronjob(suspended, "tick", cron.CronMemory(), [], NOON - 3,
                             NOON).wake_at is None


def test_the_loop_waits_no_longer_than_the_earliest_wake() -> None:
    def nothing(obj: Obj, desired: set[str]) -> bool:
        return False

    steps = [WorkloadStep("Job", nothing, lambda: False),
             WorkloadStep("CronJob", nothing, lambda: False)]
    assert earliest_wake(steps) is None and wait_seconds(steps, 2.0) == 2.0
    steps[0].pending["Job/default/ttl"] = time.time() + 3600
    assert wait_seconds(steps, 2.0) == 2.0
    steps[1].pending["CronJob/default/tick"] = time.time() + 0.5
    assert 0.3 < wait_seconds(steps, 2.0) <= 0.5
    steps[1].pending["CronJob/default/tick"] = time.time() - 5
    assert wait_seconds(steps, 2.0) == 0.0
    assert steps[1].due("CronJob/default/tick") and not steps[0].due("Job/default/ttl")
    assert not steps[0].due("Job/default/other")


def counted(node: Any, kind: str) -> list[str]:
    """The keys the loop syncs with `kind`'s step from now on."""
    step = next(s for s in node.workload_steps if s.kind == kind)
    synced: list[str] = []
    sync = step.sync

    def counting(obj: Obj, desired: set[str]) -> bool:
        synced.append(f"{kind}/{obj['metadata']['namespace']}/{obj['metadata']['name']}")
        return bool(sync(obj, desired))

    step.sync = counting
    return synced


def settle(node: Any) -> None:
    """Syncs until the events of what the syncs published are reconciled."""
    for _ in range(5):
        node.sync()


JOB: Obj = {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "once", "namespace": "default"},
            # suspended: no pod (no worker here); finished, it only waits for its TTL
            "spec": {"ttlSecondsAfterFinished": 3600, "suspend": True, "template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "demo"}]}}}}


def test_a_finished_job_waits_for_its_ttl_without_a_sync_per_loop(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(JOB), prune=False)
    key = "Job/default/once"
    finished = time.time() - 10
    complete = [{"type": t, "status": "True", "reason": "CompletionsReached", "message": "",
                 "lastProbeTime": iso_time(finished), "lastTransitionTime": iso_time(finished)}
                for t in ("SuccessCriteriaMet", "Complete")]
    node.state.allocations["jobs"][key] = {
        "uid": node.state.objects[key]["metadata"]["uid"], "startTime": finished - 5,
        "completionTime": finished, "finishedAt": finished, "succeeded": 1,
        "conditions": complete}
    node.events.subscriber.changes()
    node.events._next_resync = 0.0  # the next sync is a full one
    settle(node)
    assert node.state.objects.get(key) is not None
    assert node.jobs_pending[key] == pytest.approx(finished + 3600)
    synced = counted(node, "Job")
    settle(node)
    assert synced == []  # (a set of pending keys synced it on every loop for the hour)


def test_a_cronjob_is_synced_at_its_start_times_and_when_its_jobs_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = controller(tmp_path)
    node.apply(manifests({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": "default"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"suspend": True,
                                                                 "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "demo"}]}}}}}}),
        prune=False)
    key = "CronJob/default/tick"
    settle(node)
    wake = node.cronjobs_pending[key]
    assert wake == cron.next_after("* * * * *", None, time.time())
    synced = counted(node, "CronJob")
    settle(node)
    assert synced == []  # (always pending: synced, Jobs scanned, on every loop)
    later = wake + 1
    monkeypatch.setattr(time, "time", lambda: later)  # (the node's clock too)
    node.cronjobs_pending[key] = time.time() - 1  # its start time has come
    node.sync()
    assert synced == [key]
    (job,) = node.state.objects_of("Job")
    job_key = f"Job/default/{job['metadata']['name']}"
    assert node.cronjobs_of(frozenset({job_key})) == {key}
    assert node.cronjobs_pending[key] == later - 1 + 60  # the start time after that
    synced.clear()
    settle(node)  # the new Job's events (created, its status) wake its CronJob
    assert key in synced


def rollout(min_ready: int, progressing_at: float | None, deadline: int | None = 600) -> tuple[
        Obj, Obj]:
    spec: Obj = {"replicas": 2, "minReadySeconds": min_ready}
    if deadline is not None:
        spec["progressDeadlineSeconds"] = deadline
    conditions = [] if progressing_at is None else [{
        "type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
        "lastUpdateTime": iso_time(progressing_at)}]
    status = {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 1, "conditions": conditions}
    return status, spec


def test_a_rollout_wakes_at_min_ready_or_its_deadline() -> None:
    now = 1_700_000_000.0
    status, spec = rollout(30, now - 100)
    assert rollout_wake(status, spec, [now - 10, now - 40], now) == now + 20  # min ready
    assert rollout_wake(status, spec, [now - 40], now) == now - 100 + 600 + 1  # the deadline
    status, spec = rollout(0, None, deadline=None)
    assert rollout_wake(status, spec, [now], now) is None  # only pod events move it
    status, spec = rollout(0, now - 700)
    assert rollout_wake(status, spec, [], now) == now  # past the deadline: now
    status["availableReplicas"] = 2
    assert rollout_wake(status, spec, [], now) is None  # complete: not pending


STATEFULSET: Obj = {"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "metadata": {"name": "db", "namespace": "default"},
                    "spec": {"replicas": 1, "serviceName": "db",
                             "selector": {"matchLabels": {"app": "db"}},
                             "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                                 "containers": [{"name": "db", "image": "demo"}]}}}}
DAEMONSET: Obj = {"apiVersion": "apps/v1", "kind": "DaemonSet",
                  "metadata": {"name": "agent", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "agent"}},
                           "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                               "containers": [{"name": "a", "image": "demo"}]}}}}


@pytest.mark.parametrize("obj", [STATEFULSET, DAEMONSET], ids=["statefulset", "daemonset"])
def test_a_rollout_waiting_for_a_pod_to_be_ready_does_not_spin_the_loop(
        tmp_path: Path, obj: Obj, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its pod never gets ready (its worker only idles here): pod events move it, not a clock.
    # It was synced with a wake time of "now", so the node looped without waiting while the
    # set was unsettled.
    async def idle(self: podworker.PodWorker) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(podworker.PodWorker, "run", idle)

    async def scenario() -> float:
        node = controller(tmp_path)
        node.apply(manifests(obj), prune=False)
        settle(node)
        assert len(node.state.pods) == 1
        return wait_seconds(node.workload_steps, 2.0)

    assert asyncio.run(scenario()) == 2.0


def test_a_set_pod_that_finishes_terminating_wakes_its_statefulset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A scale-down deletes the highest pod and waits for it to be gone. The pod's deletion is
    # published in the sync that drops its finished worker, so the next sync's Pod event named
    # no owner: the set's status kept the gone pod (`replicas` 2) until the 30 s resync, and an
    # OrderedReady scale-down or rolling update waited as long for its next step.
    async def idle(self: podworker.PodWorker) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(podworker.PodWorker, "run", idle)
    parallel = {**STATEFULSET, "spec": {**STATEFULSET["spec"], "replicas": 2,
                                        "podManagementPolicy": "Parallel"}}
    key = "StatefulSet/default/db"

    async def scenario() -> None:
        node = controller(tmp_path)
        node.apply(manifests(parallel), prune=False)
        settle(node)
        assert sorted(node.state.pods) == ["default/db-0", "default/db-1"]
        scaled = {**parallel, "spec": {**parallel["spec"], "replicas": 1}}
        node.apply(manifests(scaled), prune=False)
        settle(node)
        (stopping,) = node.terminating.values()
        assert stopping.record.name == "db-1"
        assert node.workload_statuses[key]["replicas"] == 2  # a terminating pod still counts
        stopping.done.set()  # its containers are gone
        settle(node)
        assert not node.terminating
        assert node.workload_statuses[key]["replicas"] == 1

    asyncio.run(scenario())
