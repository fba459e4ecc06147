"""The DaemonSet controller inside the node's Controller: one pod record, labelled with its
template's hash and generation, none when the node does not fit, and a rebuilt image rolls it
(restart_image, as for Deployments: tests/integration/test_daemonsets.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
DAEMONSET: Obj = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "agent", "namespace": "default"},
    "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {"containers": [{"name": "c", "image": "demo:1"}]}}},
}


def records(node: Any) -> list[Any]:
    return [r for r in node.state.pods.values() if r.owner == "DaemonSet/default/agent"]


def test_one_pod_labelled_with_its_template(tmp_path: Path) -> None:
    node = controller(tmp_path)
    started: list[Any] = []
    node._start_worker = started.append  # type: ignore[method-assign]  # no Docker here
    node.apply(manifests(DAEMONSET), prune=False)
    (first,) = records(node)
    labels = first.obj["metadata"]["labels"]
    assert labels["controller-revision-hash"] == first.template_hash
    assert labels["pod-template-generation"] == "1" and labels["app"] == "agent"
    assert first.obj["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    status = node.workload_statuses["DaemonSet/default/agent"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"]) == (1, 1)
    assert (status["numberReady"], status["numberAvailable"]) == (0, 0)  # not running yet
    assert started == [first]
    node.sync()
    assert records(node) == [first]  # one per node, kept

def test_no_pod_when_the_node_does_not_fit(tmp_path: Path) -> None:
    node = controller(tmp_path)
    elsewhere = copy.deepcopy(DAEMONSET)
    elsewhere["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "windows"}
    node.apply(manifests(elsewhere), prune=False)
    assert records(node) == []
    assert node.workload_statuses["DaemonSet/default/agent"]["desiredNumberScheduled"] == 0
