"""Deleted objects kept until their pods are gone (node/finalizing.py), and the Warning header
values of the API (node/kubeapi/app.py): no Docker."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from localsvc.node.finalizing import Finalizing, terminating
from localsvc.node.kubeapi.app import warning_value
from localsvc.node.store import PodRecord, State


def record(name: str, namespace: str = "default", owner: str | None = None) -> PodRecord:
    return PodRecord(obj={"metadata": {"name": name, "namespace": namespace, "uid": name}},
                     owner=owner)


class Node(Finalizing):
    def __init__(self) -> None:
        self.state = State()
        self.terminating: dict[str, Any] = {}
        self.finalizing = {}


def worker(rec: PodRecord, done: bool = False, forced: bool = False) -> Any:
    return SimpleNamespace(record=rec, done=SimpleNamespace(is_set=lambda: done),
                           deleted_at_once=forced)


def test_a_namespace_stays_terminating_until_its_last_pod_is_gone() -> None:
    node = Node()
    kept = node.keep_until_dependents_gone("Namespace//shop", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"},
        "status": {"phase": "Active"}})
    assert kept["status"] == {"phase": "Terminating"}
    assert kept["spec"]["finalizers"] == ["kubernetes"] and kept["metadata"]["deletionTimestamp"]
    assert node.terminating_namespace("shop") and not node.terminating_namespace("default")
    node.terminating["u1"] = worker(record("a", "shop"))
    node.terminating["u2"] = worker(record("b", "default"))
    assert not node.settle_finalizing()  # a pod of shop is still stopping
    node.terminating["u1"] = worker(record("a", "shop"), forced=True)  # force-deleted
    assert node.settle_finalizing() and node.finalizing == {}


def test_an_owner_deleted_in_the_foreground_waits_for_its_own_pods_only() -> None:
    node = Node()
    key = "Deployment/default/web"
    kept = node.keep_until_dependents_gone(key, {"kind": "Deployment",
                                                 "metadata": {"name": "web"}})
    assert kept["metadata"]["finalizers"] == ["foregroundDeletion"]
    node.state.pods["default/other"] = record("other", owner="Deployment/default/db")
    node.terminating["u"] = worker(record("web-1", owner=key))
    assert not node.settle_finalizing()
    del node.terminating["u"]
    assert node.settle_finalizing() and key not in node.finalizing


def test_terminating_leaves_the_served_object_as_it_was() -> None:
    served = {"kind": "Deployment", "metadata": {"name": "web", "finalizers": ["x"]}}
    marked = terminating(served)
    assert marked["metadata"]["finalizers"] == ["x", "foregroundDeletion"]
    assert served == {"kind": "Deployment", "metadata": {"name": "web", "finalizers": ["x"]}}


def test_warning_values_quote_their_text_as_rfc_7234_asks() -> None:
    assert warning_value('unknown field "spec.x"') == r'299 - "unknown field \"spec.x\""'
    assert warning_value("a\\b") == r'299 - "a\\b"'
