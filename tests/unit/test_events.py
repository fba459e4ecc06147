"""The pure rules of Events (model/events.py) and the recorder on a real ObjectStore."""

from __future__ import annotations

from localsvc.model import events as ev
from localsvc.model.events import Correlator, ObjectRef, Occurrence
from localsvc.model.kubeapi.fieldselect import FieldSelectorError, compile_selector
from localsvc.node.events import EventRecorder
from localsvc.node.objectstore import ObjectStore
from localsvc.node.podevents import PodEvents, pull_error
from localsvc.runtime.pods import ImageMissing
from localsvc.node.serviceevents import ServiceEvents

import docker.errors
import pytest

POD = ObjectRef("Pod", "default", "web-1", "uid-1")


def backoff(ref: ObjectRef = POD, message: str = "Back-off restarting") -> Occurrence:
    return Occurrence(ref.container("app"), ev.WARNING, "BackOff", message, ev.KUBELET, "node")


def test_the_same_occurrence_again_counts_on_the_same_event() -> None:
    correlator = Correlator()
    first = correlator.observe(backoff(), 1000.0)
    again = correlator.observe(backoff(), 1010.0)
    assert first["metadata"]["name"] == again["metadata"]["name"] == f"web-1.{10**12:x}"
    assert (first["count"], again["count"]) == (1, 2)
    assert again["firstTimestamp"] == "1970-01-01T00:16:40Z"
    assert again["lastTimestamp"] == "1970-01-01T00:16:50Z"
    assert len(correlator) == 1


def test_another_message_or_object_is_another_event() -> None:
    correlator = Correlator()
    names = {correlator.observe(backoff(), 1.0)["metadata"]["name"],
             correlator.observe(backoff(message="other"), 2.0)["metadata"]["name"],
             correlator.observe(backoff(ObjectRef("Pod", "default", "web-2")), 3.0)[
                 "metadata"]["name"]}
    assert len(names) == 3


def test_the_involved_objects_resource_version_is_not_part_of_the_key() -> None:
    correlator = Correlator()
    older = ObjectRef("Pod", "default", "web-1", "uid-1", resource_version="5")
    newer = ObjectRef("Pod", "default", "web-1", "uid-1", resource_version="9")
    correlator.observe(backoff(older), 1.0)
    assert correlator.observe(backoff(newer), 2.0)["count"] == 2


def test_events_expire_after_the_ttl_since_last_seen() -> None:
    correlator = Correlator(ttl=60)
    name = correlator.observe(backoff(), 0.0)["metadata"]["name"]
    correlator.observe(backoff(), 50.0)  # seen again: its TTL starts over
    assert correlator.expired(100.0) == []
    assert correlator.expired(111.0) == [("default", name)]
    assert len(correlator) == 0
    assert correlator.observe(backoff(), 112.0)["count"] == 1  # a new Event


def test_the_number_of_events_is_bounded_least_recently_seen_first() -> None:
    correlator = Correlator(limit=2)
    a = correlator.observe(backoff(message="a"), 1.0)["metadata"]["name"]
    correlator.observe(backoff(message="b"), 2.0)
    correlator.observe(backoff(message="a"), 3.0)  # a is now the most recent
    correlator.observe(backoff(message="c"), 4.0)
    gone = correlator.expired(4.0)
    assert len(gone) == 1 and gone[0][1] != a
    assert len(correlator) == 2


def test_the_event_object_carries_what_kubectl_describe_reads() -> None:
    event = Correlator().observe(backoff(), 1.0)
    assert event["involvedObject"] == {"kind": "Pod", "namespace": "default", "name": "web-1",
                                       "uid": "uid-1", "apiVersion": "v1",
                                       "fieldPath": "spec.containers{app}"}
    assert event["source"] == {"component": "kubelet", "host": "node"}
    assert (event["reportingComponent"], event["reportingInstance"]) == ("kubelet", "node")
    assert event["type"] == "Warning" and event["metadata"]["namespace"] == "default"


def test_events_v1_shape_renames_the_fields() -> None:
    event = Correlator().observe(backoff(), 1.0)
    shaped = ev.as_events_v1(event)
    assert shaped["apiVersion"] == "events.k8s.io/v1"
    assert shaped["regarding"] == event["involvedObject"]
    assert shaped["note"] == event["message"]
    assert shaped["reportingController"] == "kubelet"
    assert shaped["deprecatedCount"] == 1
    assert shaped["deprecatedSource"] == {"component": "kubelet", "host": "node"}


@pytest.mark.parametrize("selector, selected", [
    ("involvedObject.kind=Pod,involvedObject.name=web-1", True),
    ("involvedObject.namespace=default,involvedObject.uid=uid-1", True),
    ("involvedObject.fieldPath=spec.containers{app}", True),
    ("involvedObject.apiVersion=v1", True),
    ("reason=BackOff,type=Warning", True),
    ("source=kubelet,reportingComponent=kubelet", True),
    ("involvedObject.name=web-2", False),
    ("type!=Warning", False),
    ("involvedObject.resourceVersion=", True),
])
def test_field_selectors_on_events(selector: str, selected: bool) -> None:
    event = Correlator().observe(backoff(), 1.0)
    assert compile_selector("Event", selector)(event) is selected


def test_an_unknown_event_field_is_refused() -> None:
    with pytest.raises(FieldSelectorError, match="field label not supported: message"):
        compile_selector("Event", "message=x")


def test_the_messages_of_the_components() -> None:
    assert ev.scheduled("default", "web-1", "localsvc") == (
        "Scheduled", "Successfully assigned default/web-1 to localsvc")
    assert ev.scaled("up", "web-5d9f", 0, 3) == (
        "ScalingReplicaSet", "Scaled up replica set web-5d9f from 0 to 3")
    assert ev.back_off("app", "web-1", "default", "u1") == (
        "BackOff", "Back-off restarting failed container app in pod web-1_default(u1)")


def test_service_failures_say_why_the_ports_are_not_published() -> None:
    lb = {"metadata": {"name": "a"}, "spec": {"type": "LoadBalancer"}}
    node_port = {"metadata": {"name": "b"}, "spec": {"type": "NodePort"}}
    failures = ev.service_failures({"default/a": lb, "default/b": node_port},
                                   {"default/a": "port 80 is held by default/c"},
                                   {"default/b": "port is already allocated"})
    assert failures == {
        "default/a": ("SyncLoadBalancerFailed", "Error syncing load balancer: failed to ensure "
                                                "load balancer: port 80 is held by default/c"),
        "default/b": ("FailedToPublishNodePort", "port is already allocated")}


# -- the recorder, on a real ObjectStore (no Docker)

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_recorder_stores_events_and_watchers_see_them() -> None:
    store = ObjectStore()
    store.put("Pod/default/web-1", {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": "web-1", "namespace": "default",
                                                 "uid": "uid-1"}})
    clock = Clock()
    recorder = EventRecorder(store, "localsvc", clock=clock)
    watcher = store.watcher()
    PodEvents(recorder, "default", "web-1", "uid-1").started("app", False)
    clock.now += 5
    PodEvents(recorder, "default", "web-1", "uid-1").started("app", False)
    events, _ = store.list_objects("Event")
    assert len(events) == 1
    event = events[0]
    assert event["count"] == 2 and event["message"] == "Started container app"
    assert event["involvedObject"]["resourceVersion"] == "1"  # the stored pod's
    assert [e.type for e in watcher.poll()] == ["ADDED", "MODIFIED"]


def test_the_recorder_deletes_what_expired_and_what_is_over_the_limit() -> None:
    store = ObjectStore()
    clock = Clock()
    recorder = EventRecorder(store, "localsvc", ttl=60, limit=2, clock=clock)
    pod = PodEvents(recorder, "default", "p", "u")
    for name in ("a", "b", "c"):
        pod.created(name, False)
    assert len(store.list_objects("Event")[0]) == 2
    clock.now += 61
    recorder.sweep()
    assert store.list_objects("Event")[0] == []


def test_the_recorder_never_raises() -> None:
    class Broken(ObjectStore):
        def put(self, key: str, obj: dict) -> None:  # type: ignore[override]
            raise RuntimeError("store down")
    PodEvents(EventRecorder(Broken(), "localsvc"), "default", "p", "u").started("app", False)


def test_kubelet_messages() -> None:
    store = ObjectStore()
    pod = PodEvents(EventRecorder(store, "localsvc", clock=Clock()), "default", "p", "u")
    pod.scheduled()
    pod.pulled("app", False, "demo:1", False, 0.0)
    pod.pulled("app", False, "demo:2", True, 1.25, 73_621_504)
    pod.killing("app", "liveness")
    pod.killing("app")
    pod.pull_failed("app", False, "gone:1", True, "")
    messages = {(e["reason"], e["message"], e["source"]["component"])
                for e in store.list_objects("Event")[0]}
    assert messages >= {
        ("Scheduled", "Successfully assigned default/p to localsvc", "default-scheduler"),
        ("Pulled", 'Container image "demo:1" already present on machine', "kubelet"),
        ("Pulled", 'Successfully pulled image "demo:2" in 1.25s (1.25s including waiting). '
                   "Image size: 73621504 bytes.", "kubelet"),
        ("Killing", "Container app failed liveness probe, will be restarted", "kubelet"),
        ("Killing", "Stopping container app", "kubelet"),
        ("ErrImageNeverPull", 'Container image "gone:1" is not present with pull policy of '
                              "Never", "kubelet")}


def test_service_events_are_recorded_once_per_failure_then_resolved() -> None:
    store = ObjectStore()
    recorder = EventRecorder(store, "localsvc", clock=Clock())
    events = ServiceEvents(recorder)
    lb = {"metadata": {"name": "a", "namespace": "default"}, "spec": {"type": "LoadBalancer"}}
    listed = []

    def services(key: str) -> dict | None:
        listed.append(1)
        return lb if key == "default/a" else None
    events.report(services, {}, {})
    assert listed == []  # nothing failing: the stored Services are not looked at
    events.report(services, {"default/a": "port 80 is held"}, {})
    events.report(services, {"default/a": "port 80 is held"}, {})
    events.report(services, {}, {})
    reasons = sorted((e["reason"], e["count"]) for e in store.list_objects("Event")[0])
    assert reasons == [("EnsuredLoadBalancer", 1), ("SyncLoadBalancerFailed", 1)]
    events.report(services, {}, {})
    assert len(listed) == 3  # resolved: nothing to look at again


def test_events_first_seen_in_the_same_nanosecond_get_distinct_names() -> None:
    correlator = Correlator()
    now = 1_765_000_000.123
    names = {correlator.observe(backoff(message=str(i)), now)["metadata"]["name"]
             for i in range(3)}
    assert len(names) == 3


def test_an_event_seen_again_after_it_expired_replaces_the_stored_one() -> None:
    # Regression: the correlator started the expired Event over under a new name without
    # returning the old name, so the old Event stayed in the store forever.
    store = ObjectStore()
    clock = Clock()
    recorder = EventRecorder(store, "localsvc", ttl=60, clock=clock)
    pod = PodEvents(recorder, "default", "p", "u")
    pod.started("app", False)
    old = store.list_objects("Event")[0][0]["metadata"]["name"]
    clock.now += 61  # expired, and no sweep ran in between
    pod.started("app", False)
    events = store.list_objects("Event")[0]
    assert [(e["metadata"]["name"] != old, e["count"]) for e in events] == [(True, 1)]
    clock.now += 61
    recorder.sweep()
    assert store.list_objects("Event")[0] == []


def test_a_failed_pull_says_the_runtimes_error_as_the_kubelet_does() -> None:
    # The Docker error, not localsvc's advice around it ("... Build it (docker build ...)").
    refused = docker.errors.APIError("500 Server Error", explanation='Get "https://127.0.0.1:1/v2/"'
                                     ": dial tcp 127.0.0.1:1: connect: connection refused")
    try:
        try:
            raise refused
        except docker.errors.APIError as err:
            raise ImageMissing("image is not present locally and pulling it failed: ... "
                               "Build it (docker build -t x ...) or load it") from err
    except ImageMissing as missing:
        assert pull_error(missing) == refused.explanation
    store = ObjectStore()
    pod = PodEvents(EventRecorder(store, "localsvc", clock=Clock()), "default", "p", "u")
    pod.pull_failed("app", False, "127.0.0.1:1/x:0", False, str(refused.explanation))
    messages = [e["message"] for e in store.list_objects("Event")[0]]
    assert messages[0] == ('Failed to pull image "127.0.0.1:1/x:0": Get "https://127.0.0.1:1/v2/"'
                           ": dial tcp 127.0.0.1:1: connect: connection refused")
    assert pull_error(ImageMissing("no cause")) == "no cause"
