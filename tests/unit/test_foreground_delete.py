"""`kubectl delete --cascade=foreground` of every kind with dependents: the object is served,
marked deleted with the foregroundDeletion finalizer, until its dependents are gone (review of
issue 14: only Deployments and StatefulSets were kept; Jobs, DaemonSets, CronJobs went at once)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from localsvc.model.kubeapi.resources import by_kind_name
from localsvc.node.kubeapi.writes import KubeWrites
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
POD_TEMPLATE: Obj = {"metadata": {"labels": {"app": "x"}}, "spec": {
    "restartPolicy": "Never", "containers": [{"name": "c", "image": "demo"}]}}
OBJECTS: dict[str, Obj] = {
    "Job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"},
            "spec": {"template": POD_TEMPLATE}},
    "CronJob": {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"},
                "spec": {"schedule": "0 0 1 1 *", "jobTemplate": {
                    "spec": {"template": POD_TEMPLATE}}}},
    "DaemonSet": {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x"},
                  "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {
                      **POD_TEMPLATE, "spec": {"containers": [
                          {"name": "c", "image": "demo"}]}}}},
}


@pytest.mark.parametrize("kind", sorted(OBJECTS))
def test_a_foreground_delete_serves_the_object_until_its_dependents_are_gone(
        tmp_path: Path, kind: str) -> None:
    node = controller(tmp_path)
    node.apply(manifests(OBJECTS[kind]), prune=False)
    key = f"{kind}/default/x"
    uid = node.state.objects[key]["metadata"]["uid"]
    node._publish()  # (what the API reads; the node's loop publishes after each change)
    resource = by_kind_name(kind)
    assert resource is not None
    # A stored dependent the collector leaves (a ConfigMap: only revisions, claims and Jobs
    # are collected, and those would go at once, in the delete's own sync).
    node.state.objects["ConfigMap/default/child"] = {"kind": "ConfigMap", "metadata": {
        "name": "child", "ownerReferences": [{"uid": uid}]}}
    served = asyncio.run(KubeWrites(node).delete(resource, "default", "x", None, "Foreground",
                                                 False))
    assert served["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert served["metadata"]["deletionTimestamp"] and key not in node.state.objects
    assert key in node.finalizing
    node.state.pods.clear()
    node.terminating.clear()
    assert not node.settle_finalizing()  # a stored dependent still holds it
    del node.state.objects["ConfigMap/default/child"]
    assert node.settle_finalizing() and key not in node.finalizing
