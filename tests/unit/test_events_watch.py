"""Regression: a watch of one kind resumed from a resourceVersion replayed the store's events of
every kind; with Events recorded per pod start, `kubectl get pods -w` and a resumed Pod watch
showed Events as pods."""

from __future__ import annotations

import asyncio

from localsvc.model.kubeapi.resources import by_kind_name
from localsvc.node.kubeapi.reads import matcher
from localsvc.node.kubeapi.watch import ApiWatch, WatchFilter
from localsvc.node.objectstore import ObjectStore


def test_a_resumed_pod_watch_replays_pods_only() -> None:
    store = ObjectStore()
    since = store.resource_version
    store.put("Pod/default/web-1", {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": "web-1", "namespace": "default"}})
    store.put("Event/default/web-1.1", {"apiVersion": "v1", "kind": "Event",
                                        "metadata": {"name": "web-1.1", "namespace": "default"},
                                        "reason": "Started"})
    resource = by_kind_name("Pod")
    assert resource is not None
    watch = ApiWatch(store, WatchFilter("Pod", None, matcher(resource, {}), "v1"), since)

    async def replayed() -> list[str]:
        names: list[str] = []
        try:
            async with asyncio.timeout(0.3):  # the replay comes at once; then it waits
                async for _, obj in watch.events():
                    names.append(obj["metadata"]["name"])
        except TimeoutError:
            pass
        return names

    try:
        assert asyncio.run(replayed()) == ["web-1"]
    finally:
        watch.close()
