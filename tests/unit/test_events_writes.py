"""Events written through the API (an operator's client-go recorder): the events.k8s.io/v1
shape read back into core/v1 (model/events.py from_events_v1), the API server's checks
(event_problems), and the recorder keeping them like its own (node/events.py store_written)."""

from __future__ import annotations

from typing import Any

from localsvc.model import events as ev
from localsvc.node.events import EventRecorder
from localsvc.node.objectstore import ObjectStore


def core_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.17f0", "namespace": "shop"},
        "involvedObject": {"kind": "Deployment", "namespace": "shop", "name": "web"},
        "reason": "Synced", "message": "all good", "type": "Normal",
        "source": {"component": "my-operator"}, "count": 1,
        "firstTimestamp": "2026-12-07T08:00:00Z", "lastTimestamp": "2026-12-07T08:00:00Z"}
    event.update(changes)
    return event


def test_events_v1_and_back_is_the_same_event() -> None:
    event = core_event(eventTime="2026-12-07T08:00:00.000000Z", action="Sync",
                       reportingComponent="my-operator", reportingInstance="op-0")
    assert ev.from_events_v1(ev.as_events_v1(event)) == event


def test_a_legacy_event_needs_its_object_in_its_own_namespace() -> None:
    assert ev.event_problems(core_event(), events_v1=False) == []
    assert ev.event_problems(core_event(involvedObject={"kind": "Node", "name": "n"},
                                        metadata={"name": "x", "namespace": "default"}),
                             events_v1=False) == []  # cluster-scoped, in default
    assert ev.event_problems(core_event(involvedObject={"kind": "Pod", "namespace": "other",
                                                        "name": "p"}), events_v1=False) == [
        ("FieldValueInvalid", "involvedObject.namespace", "other")]
    assert ev.event_problems(core_event(involvedObject=None), events_v1=False) == [
        ("FieldValueRequired", "involvedObject", None)]
    assert ev.event_problems(core_event(type="Error"), events_v1=False) == [
        ("FieldValueNotSupported", "type", "Error")]


def test_a_new_style_event_names_its_reporter_action_and_reason() -> None:
    v1 = ev.as_events_v1(core_event(reason=""))
    assert ev.event_problems(ev.from_events_v1(v1), events_v1=True) == [
        ("FieldValueRequired", "eventTime", None),
        ("FieldValueRequired", "reportingController", None),
        ("FieldValueRequired", "reportingInstance", None),
        ("FieldValueRequired", "action", None),
        ("FieldValueRequired", "reason", None)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_written_event_is_stored_kept_and_expired_like_the_nodes_own() -> None:
    store = ObjectStore()
    clock = Clock()
    recorder = EventRecorder(store, "localsvc", ttl=60, clock=clock)
    stored = recorder.store_written(core_event())
    assert stored["metadata"]["resourceVersion"] and stored["metadata"]["uid"]
    clock.now += 50
    again = recorder.store_written(core_event(count=2))  # a patch of its count: TTL from now
    assert again["metadata"]["uid"] == stored["metadata"]["uid"] and again["count"] == 2
    clock.now += 50
    recorder.sweep()
    assert len(store.list_objects("Event")[0]) == 1
    clock.now += 11
    recorder.sweep()
    assert store.list_objects("Event")[0] == []


def test_written_events_count_towards_the_bound_and_can_be_deleted() -> None:
    store = ObjectStore()
    recorder = EventRecorder(store, "localsvc", limit=2, clock=Clock())
    for i in range(3):
        recorder.store_written(core_event(metadata={"name": f"e{i}", "namespace": "shop"}))
    assert sorted(e["metadata"]["name"] for e in store.list_objects("Event")[0]) == ["e1", "e2"]
    recorder.delete_written("shop", "e1")
    assert [e["metadata"]["name"] for e in store.list_objects("Event")[0]] == ["e2"]
    assert len(recorder.correlator) == 1
