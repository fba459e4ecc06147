"""The controller follows the store's events: a sync reconciles exactly the objects they name;
the first list, a TooOld resume and the periodic resync reconcile everything."""

from __future__ import annotations

from typing import Any

from localsvc.node.objectstore import ObjectStore
from localsvc.node.reconcile import ControllerEvents, Reconcile, affected

Obj = dict[str, Any]


def _obj(kind: str, name: str, ns: str = "default", **extra: Any) -> Obj:
    return {"kind": kind, "metadata": {"name": name, "namespace": ns}, **extra}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


OWNERS = {"default/web-abc-1": "Deployment/default/web", "default/solo": None}


def _events(store: ObjectStore, clock: Clock) -> ControllerEvents:
    events = ControllerEvents(store, period=30.0, clock=clock)
    assert events.take(OWNERS, {}) == Reconcile(True)  # the first list: everything
    return events


def test_a_deployment_event_reconciles_that_deployment_only() -> None:
    store, clock = ObjectStore(), Clock()
    events = _events(store, clock)
    store.put("Deployment/default/web", _obj("Deployment", "web", spec={"replicas": 2}))
    store.put("ConfigMap/default/c", _obj("ConfigMap", "c"))  # not a kind it follows
    assert events.take(OWNERS, {}) == Reconcile(False, frozenset({"Deployment/default/web"}))
    assert not events.take(OWNERS, {})  # nothing new: nothing to reconcile


def test_a_pod_event_reconciles_its_owner_or_the_bare_pod() -> None:
    store, clock = ObjectStore(), Clock()
    events = _events(store, clock)
    store.put("Pod/default/web-abc-1", _obj("Pod", "web-abc-1", status={"phase": "Running"}))
    store.put("Pod/default/solo", _obj("Pod", "solo"))
    assert events.take(OWNERS, {}) == Reconcile(
        False, frozenset({"Deployment/default/web"}),
        frozenset({"default/web-abc-1", "default/solo"}))


def test_a_deleted_deployment_is_an_event_too() -> None:
    store, clock = ObjectStore(), Clock()
    store.put("Deployment/default/web", _obj("Deployment", "web"))
    events = _events(store, clock)
    store.delete("Deployment/default/web")
    assert events.take(OWNERS, {}).owners == {"Deployment/default/web"}


def test_a_changed_restart_token_reconciles_its_deployment() -> None:
    store, clock = ObjectStore(), Clock()
    events = _events(store, clock)
    restarts = {"Deployment/default/web": "t1", "Deployment/default/api": "t0"}
    assert events.take(OWNERS, restarts).owners == set(restarts)  # new tokens
    restarts = {**restarts, "Deployment/default/web": "t2"}
    assert events.take(OWNERS, restarts).owners == {"Deployment/default/web"}
    assert not events.take(OWNERS, restarts)


def test_too_old_relists_and_reconciles_everything() -> None:
    store, clock = ObjectStore(window=3), Clock()
    events = _events(store, clock)
    for i in range(5):  # more events than the window keeps: the resume is TooOld
        store.put(f"ConfigMap/default/c{i}", _obj("ConfigMap", f"c{i}"))
    assert events.take(OWNERS, {}) == Reconcile(True)
    assert events.subscriber.relists == 2
    store.put("Deployment/default/web", _obj("Deployment", "web"))
    assert events.take(OWNERS, {}) == Reconcile(False, frozenset({"Deployment/default/web"}))


def test_periodic_resync_reconciles_everything_without_events() -> None:
    store, clock = ObjectStore(), Clock()
    events = _events(store, clock)
    clock.now += 29.0
    assert not events.take(OWNERS, {})
    clock.now += 1.0
    assert events.take(OWNERS, {}) == Reconcile(True)
    assert events.full_syncs == 2


def test_collected_events_wait_for_the_next_take() -> None:
    """What a sync publishes is collected after it and reconciled by the next sync."""
    store, clock = ObjectStore(), Clock()
    events = _events(store, clock)
    store.put("Deployment/default/web", _obj("Deployment", "web"))
    assert events.collect()
    assert not events.collect()
    assert events.take(OWNERS, {}).owners == {"Deployment/default/web"}


def test_affected_names_no_object_for_other_kinds() -> None:
    plan = affected(frozenset({"Service/default/web", "Pod/default/gone"}), OWNERS, frozenset())
    assert plan == Reconcile(False, frozenset(), frozenset({"default/gone"}))
