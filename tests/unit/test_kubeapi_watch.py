"""API watches over the object store: the initial state, resuming, 410 Expired, selectors that
start and stop matching, bookmarks, and a client that falls behind (no Docker, no HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from localsvc.node.kubeapi import watch as watch_module
from localsvc.node.kubeapi.watch import ApiWatch, FellBehind, WatchFilter
from localsvc.node.objectstore import ObjectStore, TooOld

Obj = dict[str, Any]


def pod(name: str, ns: str = "default", app: str = "web") -> Obj:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
            "spec": {}}


def scope(namespace: str | None = "default", app: str | None = None) -> WatchFilter:
    def matches(obj: Obj) -> bool:
        return app is None or obj["metadata"]["labels"].get("app") == app
    return WatchFilter("Pod", namespace, matches, "v1")


async def take(watch: ApiWatch, count: int) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    stream = watch.events()
    while len(got) < count:
        kind, obj = await asyncio.wait_for(stream.__anext__(), 2)
        got.append((kind, obj["metadata"].get("name", "")))
    return got


def test_without_a_version_the_watch_starts_with_the_matching_objects() -> None:
    async def scenario() -> None:
        store = ObjectStore()
        store.put("Pod/default/a", pod("a"))
        store.put("Pod/other/b", pod("b", "other"))
        store.put("Service/default/s", {"kind": "Service", "metadata": {"name": "s"}})
        watch = ApiWatch(store, scope(), None)
        store.put("Pod/default/c", pod("c"))
        store.delete("Pod/default/a")
        assert await take(watch, 3) == [("ADDED", "a"), ("ADDED", "c"), ("DELETED", "a")]
        watch.close()
    asyncio.run(scenario())


def test_a_watch_resumes_after_a_version_and_410_when_it_is_too_old() -> None:
    async def scenario() -> None:
        store = ObjectStore(window=3)
        store.put("Pod/default/a", pod("a"))
        listed = store.resource_version
        store.put("Pod/default/b", pod("b"))
        watch = ApiWatch(store, scope(namespace=None), listed)
        assert await take(watch, 1) == [("ADDED", "b")]
        watch.close()
        for n in range(4):
            store.put(f"Pod/default/x{n}", pod(f"x{n}"))
        with pytest.raises(TooOld):
            ApiWatch(store, scope(), listed)
    asyncio.run(scenario())


def test_objects_that_stop_or_start_matching_the_selector_leave_or_join() -> None:
    async def scenario() -> None:
        store = ObjectStore()
        store.put("Pod/default/a", pod("a"))
        watch = ApiWatch(store, scope(app="web"), store.resource_version)
        store.put("Pod/default/a", pod("a", app="db"))  # no longer selected
        store.put("Pod/default/a", pod("a", app="web"))  # selected again
        store.put("Pod/default/b", pod("b", app="db"))  # never selected
        store.put("Pod/default/a", {**pod("a"), "status": {"phase": "Running"}})
        assert await take(watch, 3) == [("DELETED", "a"), ("ADDED", "a"), ("MODIFIED", "a")]
        watch.close()
    asyncio.run(scenario())


def test_bookmarks_carry_the_stores_version() -> None:
    async def scenario() -> None:
        store = ObjectStore()
        store.put("ConfigMap/default/c", {"kind": "ConfigMap", "metadata": {"name": "c"}})
        watch = ApiWatch(store, scope(), store.resource_version, bookmarks=True,
                         bookmark_seconds=0.01)
        kind, obj = await asyncio.wait_for(watch.events().__anext__(), 2)
        assert kind == "BOOKMARK"
        assert obj["metadata"]["resourceVersion"] == str(store.resource_version)
        watch.close()
    asyncio.run(scenario())


def test_a_client_that_falls_behind_is_cut_off_and_the_listener_goes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch_module, "QUEUE_LIMIT", 5)

    async def scenario() -> None:
        store = ObjectStore()
        watch = ApiWatch(store, scope(), store.resource_version)
        for n in range(10):
            store.put(f"Pod/default/p{n}", pod(f"p{n}"))
        with pytest.raises(FellBehind):
            await take(watch, 10)
        watch.close()
        assert store._listeners == []
    asyncio.run(scenario())
