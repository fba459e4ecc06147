"""Objects a node controller stores (a StatefulSet's claims, a CronJob's Jobs) are never pruned
by `up`'s apply with prune, which deletes only applied objects missing from the manifests."""

from __future__ import annotations

from pathlib import Path

from localsvc.node.madeobjects import MADE_BY, made_by_controller
from tests.unit.node_builders import controller, manifests, service

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "made", "namespace": "default"}, "data": {"a": "1"}}


def test_made_object_is_stored_stamped_and_marked(tmp_path: Path) -> None:
    node = controller(tmp_path)
    before = node.generation
    key = node.store_made_object(CONFIGMAP, "test-controller")
    stored = node.state.objects[key]
    assert key == "ConfigMap/default/made"
    assert stored["metadata"]["uid"] and stored["metadata"]["creationTimestamp"]
    assert node.state.sources[key] == {MADE_BY: "test-controller"}
    assert node.generation == before + 1


def test_prune_keeps_made_objects_and_deletes_applied_ones(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("a"), service("b")), prune=True)
    node.store_made_object(CONFIGMAP, "test-controller")
    results = node.apply(manifests(service("a")), prune=True)
    deleted = {r["name"] for r in results if r["action"] == "deleted"}
    assert deleted == {"b"}
    assert "ConfigMap/default/made" in node.state.objects


def test_made_by_controller_reads_the_source_entry() -> None:
    assert made_by_controller({MADE_BY: "statefulset-controller"})
    assert not made_by_controller({"file": "a.yaml", "line": 1})
    assert not made_by_controller(None)
