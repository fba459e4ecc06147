"""The node's Kubernetes API reads come from the object store: every object a client reads
carries the store's uid/resourceVersion/generation, and a change is seen at a new
resourceVersion. The paths are the ones the host asks for (host/kubepaths.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from localsvc.host.kubepaths import collection_path, object_path
from localsvc.node.server import make_app
from tests.unit.node_builders import controller, manifests, service

Obj = dict[str, Any]


def read(node: Any, path: str) -> Obj:
    async def main() -> Obj:
        async with TestClient(TestServer(make_app(node, "tok", "unit"))) as client:
            answer = await client.get(path, headers={"Authorization": "Bearer tok"})
            assert answer.status == 200
            body: Obj = await answer.json()
            return body
    return asyncio.run(main())


def test_objects_read_over_the_api_carry_the_stores_metadata(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("web")), prune=False)
    items = read(node, collection_path("Service", "default"))["items"]
    # (`kubernetes` is the node's own, in default as in every cluster)
    assert [o["metadata"]["name"] for o in items] == ["kubernetes", "web"]
    items = items[1:]
    stored = node.objects.get("Service/default/web")
    assert stored is not None
    meta = items[0]["metadata"]
    assert meta["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert meta["uid"] == stored["metadata"]["uid"]
    assert "generation" not in meta  # a Service has none (Deployments do)
    assert items[0]["spec"]["clusterIP"]  # the allocation, as rendered into the store


def test_a_spec_change_is_read_at_a_new_version(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("web")), prune=False)
    before = read(node, object_path("Service", "default", "web"))
    changed = service("web")
    changed["spec"]["ports"][0]["port"] = 81
    node.apply(manifests(changed), prune=False)
    after = read(node, object_path("Service", "default", "web"))
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["spec"]["ports"][0]["port"] == 81
    assert after["metadata"]["uid"] == before["metadata"]["uid"]


def test_the_nodes_own_kube_dns_service_is_in_the_store(tmp_path: Path) -> None:
    node = controller(tmp_path)
    items = read(node, collection_path("Service", "kube-system"))["items"]
    assert [o["metadata"]["name"] for o in items] == ["kube-dns"]
    assert items[0]["spec"]["clusterIP"] == node.dns_ip
    assert items[0]["metadata"]["resourceVersion"]
