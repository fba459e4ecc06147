"""The official Python client (`kubernetes` on PyPI), configured from the environment's
kubeconfig file only, works unmodified (issue 12): list_namespaced_pod, watch.Watch().stream
seeing a pod ADDED then MODIFIED as it becomes Ready, create_namespaced_pod and
create_namespaced_service; kubectl and localsvc see the same objects."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

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
