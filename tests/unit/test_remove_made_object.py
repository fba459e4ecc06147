"""One removal path for what a controller removes (MadeObjects.remove_made_object): the
generation that keys the sync's caches moves, and a claim's data is marked for reclaim (review
of issue 14: a Job's TTL and a CronJob's history removed objects without either)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from localsvc.node import cronjobsync
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
CLAIM = "PersistentVolumeClaim/default/data"
CRONJOB: Obj = {
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "tick", "namespace": "default"},
    "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 0,
             "jobTemplate": {"spec": {"template": {"spec": {
                 "restartPolicy": "Never", "containers": [{"name": "c", "image": "demo"}]}}}}}}


def test_removing_a_claim_bumps_the_generation_and_reclaims_its_data(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                          "metadata": {"name": "data", "namespace": "default"},
                          "spec": {"accessModes": ["ReadWriteOnce"],
                                   "resources": {"requests": {"storage": "1Gi"}}}}),
               prune=False)
    node._provisioned(CLAIM, node.state.objects[CLAIM], ("v", "/m", False))
    before = node.generation
    node.remove_made_object(CLAIM)
    assert CLAIM not in node.state.objects and CLAIM not in node.state.sources
    assert node.generation == before + 1
    assert node.claim_table[CLAIM]["reclaim"] is True


def test_a_cronjobs_jobs_removed_by_its_controller_bump_the_generation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = controller(tmp_path)
    node.apply(manifests(CRONJOB), prune=False)
    later = time.time() + 61
    monkeypatch.setattr(cronjobsync.time, "time", lambda: later)
    node._sync_cronjob(node.state.objects["CronJob/default/tick"], set())
    (job,) = node.state.objects_of("Job")
    before = node.generation
    node.state.objects.pop("CronJob/default/tick")  # gone: the collector takes its Jobs
    node.collect_orphans()
    assert not node.state.objects_of("Job")
    assert node.generation > before
