"""The dev loop's steps as core/v1 Events (host/devloop/activity.py): the bodies (pure, with a
clock), what a step names as its involved object, and a recorder whose failing writes never
reach the loop (said once)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from localsvc.host.devloop.activity import (
    APPLIED,
    BUILD_FAILED,
    COMPONENT,
    DEFAULT_NAMESPACE,
    ActivityRecorder,
    Involved,
    activity_event,
    files_named,
    pod_of,
    touched,
)
from localsvc.model.events import event_problems

NOW = 1796668800.25  # 2026-12-07T18:40:00.25Z


def test_applied_event_body() -> None:
    event = activity_event(APPLIED, "applied app.yaml in 0.8 s: deployment/web configured",
                           Involved("Deployment", "web", "shop"), NOW, "laptop")
    assert event == {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"web.{int(NOW * 1e9):x}", "namespace": "shop"},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                           "namespace": "shop"},
        "reason": "Applied", "message": "applied app.yaml in 0.8 s: deployment/web configured",
        "type": "Normal", "source": {"component": "localsvc-devloop", "host": "laptop"},
        "firstTimestamp": "2026-12-07T18:40:00Z", "lastTimestamp": "2026-12-07T18:40:00Z",
        "count": 1, "reportingComponent": COMPONENT, "reportingInstance": "laptop"}
    assert event_problems(event, events_v1=False) == []  # what the node's API accepts


def test_failures_are_warnings_about_the_default_namespace() -> None:
    event = activity_event(BUILD_FAILED, "build of demo:1 failed after 2.0 s: x" * 100,
                           DEFAULT_NAMESPACE, NOW, "laptop")
    assert event["type"] == "Warning"
    assert event["metadata"]["namespace"] == "default"
    assert event["involvedObject"] == {"apiVersion": "v1", "kind": "Namespace", "name": "default"}
    assert len(event["message"]) == 1024 and event["message"].endswith("...")
    assert event_problems(event, events_v1=False) == []


def test_files_named_relative_and_cut() -> None:
    base = Path("/p")
    assert files_named([Path("/p/k8s/app.yaml"), Path("/elsewhere/x.py")], base) == \
        "/elsewhere/x.py, k8s/app.yaml"
    many = [Path(f"/p/f{i}.py") for i in range(8)]
    assert files_named(many, base) == "f0.py, f1.py, f2.py, f3.py, f4.py and 3 more"


def test_touched_prefers_a_deployment_left_in_place() -> None:
    results = [{"kind": "Service", "name": "extra", "namespace": "default", "action": "deleted"},
               {"kind": "Service", "name": "web", "namespace": "default", "action": "configured"},
               {"kind": "Deployment", "name": "web", "namespace": "shop", "action": "configured"}]
    assert touched(results) == Involved("Deployment", "web", "shop")
    assert touched(results[:2]) == Involved("Service", "web", "default")
    assert touched(results[:1]) == DEFAULT_NAMESPACE
    assert touched([]) == DEFAULT_NAMESPACE


def test_pod_of_the_first_container_synced() -> None:
    pods = [{"metadata": {"name": "app-1", "namespace": "shop"},
             "status": {"containerStatuses": [{"containerID": "docker://abc"}]}}]
    assert pod_of(pods, ["abc"]) == Involved("Pod", "app-1", "shop")
    assert pod_of(pods, []) == DEFAULT_NAMESPACE


def test_recorder_writes_each_event_in_order() -> None:
    written: list[tuple[str, dict[str, Any]]] = []
    said: list[str] = []
    recorder = ActivityRecorder(lambda path, body: written.append((path, body)), said.append,
                                clock=lambda: NOW, host="laptop")
    recorder.record(APPLIED, "one", Involved("Deployment", "web", "shop"))
    recorder.record(APPLIED, "two")
    recorder.close()
    assert [(path, body["message"]) for path, body in written] == [
        ("/api/v1/namespaces/shop/events", "one"), ("/api/v1/namespaces/default/events", "two")]
    assert said == []


def test_failing_writes_are_said_once_and_never_raise() -> None:
    said: list[str] = []
    attempts = threading.Semaphore(0)

    def refuse(path: str, body: dict[str, Any]) -> None:
        attempts.release()
        raise ConnectionRefusedError("node unreachable")

    recorder = ActivityRecorder(refuse, said.append, clock=lambda: NOW, host="laptop")
    for i in range(3):
        recorder.record(APPLIED, f"step {i}")
    recorder.close()
    assert all(attempts.acquire(timeout=5) for _ in range(3))
    assert len(said) == 1 and "could not be recorded as Events (node unreachable)" in said[0]
