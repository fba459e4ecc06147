"""The CronJob controller inside the node's Controller (no pods, no Docker calls): a due start
time stores a Job made by the controller (named, owned, annotated, never pruned by `up`), the
CronJob waits for its next start time (its pending table is the step's, not a copy), its status is
published, and deleting the CronJob deletes its Jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from localsvc.node import cronjobsync
from localsvc.node.madeobjects import made_by_controller
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
CRONJOB: Obj = {
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "tick", "namespace": "default"},
    "spec": {"schedule": "* * * * *", "jobTemplate": {
        "metadata": {"labels": {"app": "tick"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "demo"}]}}}}},
}


def test_a_due_start_time_stores_a_made_job(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    node = controller(tmp_path)
    node.apply(manifests(CRONJOB), prune=False)
    step = next(s for s in node.workload_steps if s.kind == "CronJob")
    assert "CronJob/default/tick" in step.pending and step.pending is node.cronjobs_pending
    node.sync()
    assert not node.state.objects_of("Job")  # not due yet

    later = time.time() + 61  # past the next minute
    monkeypatch.setattr(cronjobsync.time, "time", lambda: later)
    node._sync_cronjob(node.state.objects["CronJob/default/tick"], set())
    (job,) = node.state.objects_of("Job")
    minute = int(later // 60)
    meta = job["metadata"]
    assert meta["name"] == f"tick-{minute}"
    assert meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
    cronjob = node.state.objects["CronJob/default/tick"]
    owner = meta["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "CronJob", cronjob["metadata"]["uid"], True)
    assert job["spec"]["selector"] == {"matchLabels": {
        "batch.kubernetes.io/controller-uid": meta["uid"]}}  # stored as the API stores a Job
    assert made_by_controller(node.state.sources[f"Job/default/{meta['name']}"])
    status = node.workload_statuses["CronJob/default/tick"]
    assert status["active"][0]["name"] == meta["name"]
    assert status["lastScheduleTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                       time.gmtime(minute * 60))

    node._forget_cronjobs()
    assert step.pending is node.cronjobs_pending  # still the set the loop reads
    node.delete(["CronJob/default/tick"])
    assert not node.state.objects_of("Job")  # its Jobs went with it
    assert "CronJob/default/tick" not in node.workload_statuses
