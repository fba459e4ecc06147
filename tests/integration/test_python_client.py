"""The official Python client (`kubernetes` on PyPI), configured from the environment's
kubeconfig file only, works unmodified (issue 12): list_namespaced_pod, watch.Watch().stream
seeing a pod ADDED then MODIFIED as it becomes Ready, create_namespaced_pod and
create_namespaced_service; kubectl and localsvc see the same objects."""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import pytest
import yaml

from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    FLIPPER, Kubectl, kubectl, ns, python_client, shared_env)


def test_python_client_lists_watches_and_creates(kubectl: Kubectl, ns: str) -> None:
    api = python_client(kubectl.kubeconfig)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    stop = threading.Event()

    def watching() -> None:
        from kubernetes import watch
        watcher: Any = watch.Watch()  # type: ignore[no-untyped-call]
        for event in watcher.stream(api.list_namespaced_pod, namespace=ns, timeout_seconds=30,
                                    _request_timeout=40):
            events.put((event["type"], event["object"]))
            if stop.is_set():
                break

    thread = threading.Thread(target=watching, daemon=True)
    thread.start()
    pod = yaml.safe_load(FLIPPER)
    created = api.create_namespaced_pod(ns, pod)
    assert created.metadata.name == "flipper" and created.metadata.uid
    seen: list[tuple[str, bool]] = []
    deadline = time.monotonic() + 40
    while ("MODIFIED", True) not in seen:
        assert time.monotonic() < deadline, f"no MODIFIED event with the pod Ready: {seen}"
        try:
            kind, obj = events.get(timeout=1)
        except queue.Empty:
            continue
        ready = any(c.type == "Ready" and c.status == "True"
                    for c in (obj.status.conditions or []))
        assert obj.metadata.name == "flipper", obj.metadata.name
        seen.append((kind, ready))
    stop.set()
    assert seen[0] == ("ADDED", False), seen
    listed = api.list_namespaced_pod(ns)
    assert [p.metadata.name for p in listed.items] == ["flipper"]
    assert listed.items[0].status.pod_ip and listed.metadata.resource_version

    from kubernetes import client
    service = api.create_namespaced_service(ns, client.V1Service(
        metadata=client.V1ObjectMeta(name="flipper"),
        spec=client.V1ServiceSpec(selector={"app": "flipper"},
                                  ports=[client.V1ServicePort(port=80, target_port=8080)])))
    assert service.spec.cluster_ip and service.spec.type == "ClusterIP"
    # One API: kubectl and localsvc see the Service the client created.
    assert kubectl.json("get", "svc", "flipper", "-n", ns)["spec"]["clusterIP"] == \
        service.spec.cluster_ip
    assert kubectl.env.get("svc", "flipper", ns)[0]["spec"]["clusterIP"] == service.spec.cluster_ip



def settings(api: Any, ns: str) -> Any:
    """A ConfigMap made, replaced and patched by the client (no fieldManager given)."""
    from kubernetes import client

    made = api.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings"), data={"a": "1"}))
    made.data["a"] = "2"
    api.replace_namespaced_config_map("settings", ns, made)
    return made


def test_python_client_stale_replace_is_a_conflict(kubectl: Kubectl, ns: str) -> None:
    from kubernetes import client

    api = python_client(kubectl.kubeconfig)
    made = settings(api, ns)
    made.data["a"] = "3"  # still the first resourceVersion: stale
    with pytest.raises(client.ApiException) as stale:
        api.replace_namespaced_config_map("settings", ns, made)
    assert (stale.value.status, stale.value.reason) == (409, "Conflict")
    assert json.loads(stale.value.body or "{}")["reason"] == "Conflict"
    patched = api.patch_namespaced_config_map("settings", ns, {"data": {"b": "x"}})
    assert patched.data == {"a": "2", "b": "x"}


def test_python_client_writes_are_managed_by_its_user_agent(kubectl: Kubectl, ns: str) -> None:
    """With no fieldManager, the API server names the manager after the User-Agent's product
    (the client sends OpenAPI-Generator/<version>/python), whatever the verb."""
    api = python_client(kubectl.kubeconfig)
    settings(api, ns)
    patched = api.patch_namespaced_config_map("settings", ns, {"data": {"b": "x"}})
    managed = patched.metadata.managed_fields
    assert {(e.manager, e.operation) for e in managed} == {("OpenAPI-Generator", "Update")}
    fields = json.dumps([e.fields_v1 for e in managed])
    assert '"f:a"' in fields and '"f:b"' in fields, fields
    assert "f:status" not in fields, fields  # a ConfigMap has no status


def test_python_client_delete_of_a_configmap_answers_a_status(kubectl: Kubectl, ns: str) -> None:
    """The ConfigMap registry does not set ReturnDeletedObject (pods, services, namespaces
    do): its delete answers metav1.Status Success. (The client, v37, declares the answer an
    `object` and hands the decoded JSON back as a dict.)"""
    from kubernetes import client

    api = python_client(kubectl.kubeconfig)
    settings(api, ns)
    deleted = api.delete_namespaced_config_map("settings", ns)
    assert isinstance(deleted, dict) and deleted["kind"] == "Status", deleted
    details = deleted["details"]
    assert (deleted["status"], details["name"], details["kind"]) == (
        "Success", "settings", "configmaps")
    with pytest.raises(client.ApiException) as gone:
        api.read_namespaced_config_map("settings", ns)
    assert gone.value.status == 404
