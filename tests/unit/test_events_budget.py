"""How often Events are written (model/events.py SpamFilter, Aggregator, expiry's cap, client-go
events_cache.go's defaults): what is over a source's budget is not stored, similar messages are
combined, and expiry deletes a bounded number at a time, so Events never flush the store's shared
watch window."""

from __future__ import annotations

from localsvc.model import events as ev
from localsvc.model.events import Aggregator, Correlator, ObjectRef, Occurrence, SpamFilter
from localsvc.node.events import EventRecorder
from localsvc.node.objectstore import ObjectStore
from localsvc.node.podevents import PodEvents


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def unhealthy(pod: str = "web-1", message: str = "Readiness probe failed: down") -> Occurrence:
    ref = ObjectRef("Pod", "default", pod, f"uid-{pod}").container("app")
    return Occurrence(ref, ev.WARNING, "Unhealthy", message, ev.KUBELET, "node")


def test_a_source_reports_25_times_about_an_object_then_once_per_5_minutes() -> None:
    spam = SpamFilter()
    allowed = [spam.allows(unhealthy(), 1000.0 + i) for i in range(30)]
    assert allowed == [True] * 25 + [False] * 5
    assert spam.allows(unhealthy("web-2"), 1030.0)  # another object: a budget of its own
    # The bucket refills one report per 300 s from the first: the 26th comes 300 s after it.
    assert not spam.allows(unhealthy(), 1299.0)
    assert spam.allows(unhealthy(), 1300.5)
    assert not spam.allows(unhealthy(), 1301.0)


def test_a_failing_probe_writes_a_bounded_number_of_store_versions() -> None:
    # Regression: each failure was a new store version, forever (count + 1 each time).
    store = ObjectStore()
    clock = Clock()
    pod = PodEvents(EventRecorder(store, "localsvc", clock=clock), "default", "web-1", "u")
    before = store.resource_version
    for _ in range(360):  # a readiness probe failing every 10 s for an hour
        pod.unhealthy("app", "readiness", "down")
        clock.now += 10
    written = store.resource_version - before
    assert written <= 25 + 3600 // 300, written
    (event,) = store.list_objects("Event")[0]
    assert event["count"] == written


def test_over_budget_nothing_is_stored() -> None:
    correlator = Correlator(spam=SpamFilter(burst=2))
    assert correlator.observe(unhealthy(), 1.0) is not None
    assert correlator.observe(unhealthy(), 2.0) is not None
    assert correlator.observe(unhealthy(), 3.0) is None
    assert len(correlator) == 1


def test_the_tenth_different_message_of_a_reason_is_combined() -> None:
    correlator = Correlator()
    events = [correlator.observe(unhealthy(message=f"failed: {i}"), 1.0 + i) for i in range(12)]
    assert all(e is not None for e in events)
    assert [e["message"] for e in events[:9] if e] == [f"failed: {i}" for i in range(9)]
    combined = [e for e in events[9:] if e]
    assert [e["message"] for e in combined] == [
        f"(combined from similar events): failed: {i}" for i in (9, 10, 11)]
    assert len({e["metadata"]["name"] for e in combined}) == 1  # one Event, counted on
    assert [e["count"] for e in combined] == [1, 2, 3]
    assert len(correlator) == 10


def test_similar_messages_far_apart_are_not_combined() -> None:
    aggregator = Aggregator()
    for i in range(20):
        occurrence, key = aggregator.aggregate(unhealthy(message=f"failed: {i}"), i * 601.0)
        assert key == occurrence.key() and not occurrence.message.startswith("(combined")


def test_expiry_deletes_at_most_a_hundred_at_a_time() -> None:
    store = ObjectStore()
    clock = Clock()
    recorder = EventRecorder(store, "localsvc", ttl=60, clock=clock)
    for i in range(250):
        PodEvents(recorder, "default", f"p{i}", f"u{i}").started("app", False)
    assert len(store.list_objects("Event")[0]) == 250
    clock.now += 61
    left = []
    for _ in range(3):
        recorder.sweep()
        left.append(len(store.list_objects("Event")[0]))
    assert left == [150, 50, 0]
