"""The node's object store: resourceVersion, generation, events, resume, too-old."""

from __future__ import annotations

import pytest

from localsvc.node.objectstore import ObjectStore, TooOld, owner_reference


def _svc(name: str, port: int = 80, labels: dict[str, str] | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"ports": [{"port": port}]}}


def _cm(name: str, value: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"a": value}}


def test_every_change_gets_a_higher_resource_version_as_a_decimal_string() -> None:
    store = ObjectStore()
    a = store.put("Service/default/a", _svc("a"))
    b = store.put("Service/default/b", _svc("b"))
    c = store.put("Service/default/a", _svc("a", 81))
    d = store.delete("Service/default/b")
    assert a and b and c and d
    versions = [e.resource_version for e in (a, b, c, d)]
    assert versions == [1, 2, 3, 4]
    assert c.object["metadata"]["resourceVersion"] == "3"
    assert d.object["metadata"]["resourceVersion"] == "4"
    assert store.resource_version == 4


def test_unchanged_put_is_no_event_and_no_new_version() -> None:
    store = ObjectStore()
    store.put("Service/default/a", _svc("a"))
    stored = store.get("Service/default/a")
    assert stored is not None
    assert store.put("Service/default/a", _svc("a")) is None
    assert store.put("Service/default/a", stored) is None  # its own managed metadata
    assert store.resource_version == 1


def _deploy(name: str, port: int = 80, labels: dict[str, str] | None = None) -> dict:
    return {**_svc(name, port, labels), "apiVersion": "apps/v1", "kind": "Deployment"}


def test_generation_bumps_on_spec_change_only_on_the_kinds_that_have_one() -> None:
    store = ObjectStore()
    store.put("Deployment/default/a", _deploy("a"))
    store.put("Deployment/default/a", _deploy("a", labels={"x": "1"}))  # metadata only
    after_labels = store.get("Deployment/default/a")
    store.put("Deployment/default/a", _deploy("a", 81, labels={"x": "1"}))
    after_spec = store.get("Deployment/default/a")
    assert after_labels and after_spec
    assert after_labels["metadata"]["generation"] == 1
    assert after_labels["metadata"]["resourceVersion"] == "2"
    assert after_spec["metadata"]["generation"] == 2
    status_only = {**after_spec, "status": {"replicas": 1}}
    store.put("Deployment/default/a", status_only)
    assert store.get("Deployment/default/a")["metadata"]["generation"] == 2  # type: ignore[index]
    # As in 1.32: Services, Pods and ConfigMaps carry no generation.
    store.put("Service/default/s", _svc("s"))
    store.put("Service/default/s", _svc("s", 81))
    assert "generation" not in store.get("Service/default/s")["metadata"]  # type: ignore[index]
    store.put("ConfigMap/default/c", _cm("c", "1"))
    assert "generation" not in store.get("ConfigMap/default/c")["metadata"]  # type: ignore[index]


def test_uid_and_creation_timestamp_are_set_once() -> None:
    store = ObjectStore(clock=lambda: 0.0)
    store.put("Service/default/a", _svc("a"))
    first = store.get("Service/default/a")
    store.put("Service/default/a", _svc("a", 81))
    second = store.get("Service/default/a")
    assert first and second
    assert first["metadata"]["creationTimestamp"] == "1970-01-01T00:00:00Z"
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]


def test_a_new_uid_under_the_same_key_is_a_new_object() -> None:
    store = ObjectStore(clock=lambda: 0.0)
    pod = {"kind": "Pod", "metadata": {"name": "p", "uid": "u1"}, "spec": {"containers": []}}
    store.put("Pod/default/p", pod)
    store.put("Pod/default/p", {**pod, "metadata": {"name": "p", "uid": "u2",
                                                    "creationTimestamp": "2026-01-01T00:00:00Z"}})
    stored = store.get("Pod/default/p")
    assert stored and stored["metadata"]["uid"] == "u2"
    assert [(e.type, e.object["metadata"]["uid"]) for e in store.events_since(1)] == [
        ("DELETED", "u1"), ("ADDED", "u2")]
    assert stored["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"


def test_events_in_order_and_a_watcher_resumes_where_it_left() -> None:
    store = ObjectStore()
    watcher = store.watcher()
    store.put("Service/default/a", _svc("a"))
    store.put("Service/default/b", _svc("b"))
    assert [(e.type, e.key) for e in watcher.poll()] == [
        ("ADDED", "Service/default/a"), ("ADDED", "Service/default/b")]
    assert watcher.poll() == []
    store.put("Service/default/a", _svc("a", 81))
    store.delete("Service/default/b")
    assert [(e.type, e.key, e.resource_version) for e in watcher.poll()] == [
        ("MODIFIED", "Service/default/a", 3), ("DELETED", "Service/default/b", 4)]
    late = store.watcher(2)
    assert [e.resource_version for e in late.poll()] == [3, 4]


def test_a_version_older_than_the_window_is_too_old() -> None:
    store = ObjectStore(window=3)
    watcher = store.watcher(0)
    for port in range(1, 6):
        store.put("Service/default/a", _svc("a", port))
    with pytest.raises(TooOld) as caught:
        watcher.poll()
    assert caught.value.oldest == 2
    assert "list again" in str(caught.value)
    assert [e.resource_version for e in store.events_since(2)] == [3, 4, 5]


def test_restore_never_moves_the_counter_back_and_old_watchers_are_too_old() -> None:
    before = ObjectStore()
    for name in "abc":
        before.put(f"Service/default/{name}", _svc(name))
    saved = {k: before.get(k) for k in before.keys()}
    after = ObjectStore(resource_version=2)  # a counter saved before the last write
    after.restore({k: v for k, v in saved.items() if v is not None})
    assert after.resource_version == 3
    with pytest.raises(TooOld):
        after.events_since(1)
    assert after.events_since(3) == []
    event = after.put("Service/default/a", _svc("a", 99))
    assert event and event.resource_version == 4


def test_replace_kinds_emits_only_what_differs() -> None:
    store = ObjectStore()
    store.put("Service/default/a", _svc("a"))
    store.put("Service/default/b", _svc("b"))
    store.put("ConfigMap/default/c", _cm("c", "1"))
    events = store.replace_kinds(["Service"], {"Service/default/a": _svc("a"),
                                               "Service/default/d": _svc("d")})
    assert [(e.type, e.key) for e in events] == [("DELETED", "Service/default/b"),
                                                 ("ADDED", "Service/default/d")]
    assert store.get("ConfigMap/default/c") is not None


def test_listeners_hear_every_event() -> None:
    store = ObjectStore()
    heard: list[str] = []
    store.add_listener(lambda e: heard.append(f"{e.type} {e.key}"))
    store.put("Service/default/a", _svc("a"))
    store.put("Service/default/a", _svc("a"))  # unchanged: nothing
    store.delete("Service/default/a")
    store.delete("Service/default/a")  # gone already: nothing
    assert heard == ["ADDED Service/default/a", "DELETED Service/default/a"]


def test_list_is_consistent_at_the_store_version() -> None:
    store = ObjectStore()
    store.put("Service/default/a", _svc("a"))
    store.put("ConfigMap/default/c", _cm("c", "1"))
    services, version = store.list_objects("Service")
    assert [s["metadata"]["name"] for s in services] == ["a"] and version == 2


def test_owner_reference_names_the_owner() -> None:
    store = ObjectStore()
    event = store.put("Service/default/a", _svc("a"))
    assert event
    ref = owner_reference(event.object)
    assert ref == {"apiVersion": "v1", "kind": "Service", "name": "a",
                   "uid": event.object["metadata"]["uid"], "controller": True,
                   "blockOwnerDeletion": True}


def test_the_version_floor_keeps_versions_above_those_of_before_a_restart() -> None:
    now = [1000]
    store = ObjectStore(resource_version=5, version_floor=lambda: now[0])
    first = store.put("Service/default/a", _svc("a"))
    second = store.put("Service/default/a", _svc("a", 81))  # the clock did not move
    now[0] = 10
    third = store.put("Service/default/a", _svc("a", 82))  # the clock went back
    assert first and second and third
    assert [first.resource_version, second.resource_version, third.resource_version] == [
        1000, 1001, 1002]


def test_object_key_has_one_stored_form_that_parses_back() -> None:
    from localsvc.model.load import Manifest, ObjectKey
    from localsvc.node.store import key_of
    from localsvc.node.views import object_key
    ns = Manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}, "f", 1)
    svc = Manifest(_svc("a"), "f", 1)
    assert ns.key.id == "Namespace//web" == key_of("Namespace", "", "web") == object_key(ns.obj)
    assert svc.key.id == "Service/default/a" == object_key(svc.obj)
    assert str(ns.key) == "Namespace/web"  # how messages name it
    for key in (ns.key, svc.key):
        assert ObjectKey.parse(key.id) == key and ObjectKey.parse(str(key)) == key
    assert ObjectKey.of({"kind": "Service", "metadata": {"name": "a"}}).namespaced_name \
        == "default/a"


def test_after_compact_only_the_current_version_resumes() -> None:
    store = ObjectStore()
    store.put("Service/default/a", _svc("a"))
    store.put("Service/default/b", _svc("b"))
    store.compact()
    with pytest.raises(TooOld):
        store.events_since(1)
    assert store.events_since(2) == []
    store.put("Service/default/a", _svc("a", 81))
    assert [e.resource_version for e in store.events_since(2)] == [3]
