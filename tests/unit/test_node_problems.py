"""The node controller over a stored state it cannot fully serve: it starts, serves the rest and
reports the bad object (status, Service condition, Endpoints annotation); an apply that fails
changes nothing. No pods are involved, so no Docker call is made (the client is never used)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from localsvc.host.devloop.status import problems_text
from localsvc.dns.server import DnsServer
from localsvc.errors import ManifestError
from localsvc.model.applywire import BadRequest, loads_in_pieces
from localsvc.node.applybody import parse_apply
from localsvc.node.changes import prepare
from localsvc.node.network import NetworkSync
from localsvc.node.store import Store
from tests.unit.node_builders import Obj, controller, manifests, service


def endpoints(name: str, ip: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": "default"},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 8080}]}]}


def write_state(state_dir: Path, objs: list[Obj]) -> None:
    """A state file as an older node saved it (before validation rejected such addresses)."""
    objects = {f"{o['kind']}/default/{o['metadata']['name']}": o for o in objs}
    state_dir.mkdir(parents=True, exist_ok=True)
    ips = {f"default/{o['metadata']['name']}": f"10.231.128.{5 + n}"
           for n, o in enumerate(objs) if o["kind"] == "Service"}
    (state_dir / "state.json").write_text(json.dumps(
        {"version": 1, "objects": objects, "allocations": {"clusterIPs": ips}}))


@pytest.mark.parametrize("headless", [False, True])
def test_stored_bad_endpoints_address_is_reported_not_raised(tmp_path: Path,
                                                             headless: bool) -> None:
    write_state(tmp_path, [service("good"), endpoints("good", "10.231.0.7"),
                           service("bad", headless), endpoints("bad", "fd00::1%x")])
    # The DNS server's index is built from the controller's first snapshot (not started: no
    # sockets). Before the fix, dnslib raised on "1%x" here and the node crash-looped.
    dns = DnsServer(["127.0.0.1"], 0, upstream=[])
    node = controller(tmp_path, NetworkSync(None, dns))
    problems = node.status()["problems"]
    assert [p["object"] for p in problems] == ["Endpoints/default/bad"]
    assert "fd00::1%x" in problems[0]["message"]
    services = {s.name: s for s in node.snapshot.services}
    assert services["good"].cluster_ip and [e.ip for e in services["good"].endpoints] == [
        "10.231.0.7"]
    assert services["bad"].endpoints == ()
    assert dns.index.lookup("good.default.svc.cluster.local")
    shown = {o["metadata"]["name"]: o for o in node.list_objects("Service", "default")}
    condition = shown["bad"]["status"]["conditions"][0]
    assert condition["type"] == "localsvc.io/Served" and condition["status"] == "False"
    assert "conditions" not in shown["good"]["status"]
    eps = {o["metadata"]["name"]: o for o in node.list_objects("Endpoints", "default")}
    assert "fd00::1%x" in eps["bad"]["metadata"]["annotations"]["localsvc.io/problems"]
    assert "Endpoints/default/bad" in problems_text(node.status())


def test_malformed_stored_deployment_is_reported_and_the_rest_synced(tmp_path: Path) -> None:
    broken = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
              "spec": {"replicas": 1}}  # no template: sync raised KeyError
    write_state(tmp_path, [broken, service("good")])
    node = controller(tmp_path)
    node.sync()
    problems = node.status()["problems"]
    assert [p["object"] for p in problems] == ["Deployment/default/web"]
    shown = node.list_objects("Deployment", "default")[0]["metadata"]["annotations"][
        "localsvc.io/problems"]
    assert "cannot run this stored object" in shown


def test_corrupt_state_file_starts_empty_and_says_where_the_copy_is(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "state.json").write_text('{"objects": {"Service/default/x"')
    node = controller(tmp_path)
    error = node.status()["stateError"]
    copy = next(tmp_path.glob("state.json.corrupt-*"))
    assert str(copy) in error and node.state.objects == {}
    text = problems_text(node.status())
    assert text.startswith(f"error: {error}") and "(volume localsvc-unit-state)" in text


def test_failed_apply_changes_nothing(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("a")), prune=False)
    before = (json.dumps(node.state.objects, sort_keys=True), dict(node.allocations))
    # The save cannot happen (the file's place is taken by a directory): nothing may change.
    (tmp_path / "state.json").unlink()
    (tmp_path / "state.json").mkdir()
    with pytest.raises(OSError):
        node.apply(manifests(service("a"), service("b")), prune=False)
    assert (json.dumps(node.state.objects, sort_keys=True), dict(node.allocations)) == before
    assert {s.name for s in node.snapshot.services} == {"kube-dns", "a"}


def test_invalid_apply_changes_nothing(tmp_path: Path) -> None:
    node = controller(tmp_path)
    bad = service("Bad")
    with pytest.raises(ManifestError):
        node.apply(manifests(service("a"), bad), prune=False)
    assert node.state.objects == {} and not (tmp_path / "state.json").exists()


# ---- apply off the event loop: staged, written by the store's thread, committed after -------

def test_async_apply_commits_after_the_write(tmp_path: Path) -> None:
    node = controller(tmp_path)

    async def run() -> list[Obj]:
        given = manifests(service("a"), service("b"))
        return await node.apply_async(given, False, prepare(given, node.state.objects))

    results = asyncio.run(run())
    assert [r["action"] for r in results] == ["created", "created"]
    assert set(Store(tmp_path).load().objects) == {"Service/default/a", "Service/default/b"}


def test_async_apply_failing_to_write_changes_nothing(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("a")), prune=False)
    (tmp_path / "state.json").unlink()
    (tmp_path / "state.json").mkdir()  # the write's rename fails

    async def run() -> None:
        given = manifests(service("b"))
        await node.apply_async(given, False, prepare(given, node.state.objects))

    with pytest.raises(OSError):
        asyncio.run(run())
    assert set(node.state.objects) == {"Service/default/a"}


def test_delete_while_an_apply_is_written_is_not_undone(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("a"), service("old")), prune=False)

    async def run() -> None:
        given = manifests(service("b"))
        applying = asyncio.create_task(
            node.apply_async(given, False, prepare(given, node.state.objects)))
        await asyncio.sleep(0)  # the apply is staged and its file write queued
        node.delete(["Service/default/old"])  # on the loop, while the file is written
        await applying

    asyncio.run(run())
    assert set(node.state.objects) == {"Service/default/a", "Service/default/b"}
    assert set(node.allocations) == {"default/a", "default/b"}
    assert set(Store(tmp_path).load().objects) == set(node.state.objects)


def test_scale_keeps_the_saved_text_current(tmp_path: Path) -> None:
    """The store reuses an object's JSON while the object is the same: a scale must replace
    the stored Deployment, not change it in place, or the file would keep the old replicas.
    (A Deployment without a template: sync skips it, so no pod and no Docker call.)"""
    write_state(tmp_path, [{"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "web", "namespace": "default"},
                            "spec": {"replicas": 1}}])
    node = controller(tmp_path)
    node.store.save(node.state)  # the object's text is cached now
    before = node.state.objects["Deployment/default/web"]
    node.scale("default", "web", 3)
    node.store.save(node.state)
    assert Store(tmp_path).load().objects["Deployment/default/web"]["spec"]["replicas"] == 3
    assert before["spec"]["replicas"] == 1


def test_body_is_decoded_in_pieces_like_json_loads() -> None:
    for text in ['{}', ' { } ', '{"a": [] }', '{"manifests": [{"obj": {"x": [1, 2]}} ,'
                 ' {"y": "]"}], "prune": true}', '[1]', '{"a": 1, "b": [1, [2]]}']:
        assert loads_in_pieces(text) == json.loads(text), text
    for bad in ['{', '{"a": 1', '{"a": 1}x', '{"a" 1}', '{1: 2}', '{"a": [1,]}', '{"a": 1,}',
                '']:
        with pytest.raises(ValueError):
            loads_in_pieces(bad)


def test_bad_apply_body_is_a_clear_error() -> None:
    with pytest.raises(BadRequest, match="not JSON"):
        parse_apply(b"{")
    with pytest.raises(BadRequest, match=r"manifests\[1\]\.obj"):
        parse_apply(b'{"manifests": [{"obj": {"kind": "ConfigMap"}}, {"file": "x"}]}')


def test_a_service_whose_forwarder_cannot_be_computed_is_skipped_and_reported(
        tmp_path: Path) -> None:
    good = {**service("good"), "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    bad = {**service("bad"), "spec": {"type": "LoadBalancer", "ports": [{"port": 81}],
                                      "loadBalancerSourceRanges": 5}}  # not a list
    write_state(tmp_path, [good, bad])
    state = json.loads((tmp_path / "state.json").read_text())
    state["allocations"]["nodePorts"] = {"default/good": {"80/TCP": 30080},
                                         "default/bad": {"81/TCP": 30081}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    node = controller(tmp_path)
    services = {f"default/{o['metadata']['name']}": o for o in (good, bad)}
    desired = node._desired_forwarders(services)
    assert set(desired) == {"default/good"}
    assert [p["object"] for p in node.status()["problems"]] == ["Service/default/bad"]


def test_scale_over_the_replicas_limit_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    from localsvc.errors import LocalsvcError
    from localsvc.model.validate import MAX_REPLICAS

    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    node = controller(tmp_path)
    node.apply(manifests(deployment), prune=False)
    for replicas in (MAX_REPLICAS + 1, -1):
        with pytest.raises(LocalsvcError, match=f"between 0 and {MAX_REPLICAS}"):
            node.scale("default", "web", replicas)
    assert node.list_objects("Deployment", "default")[0]["spec"]["replicas"] == 0


def test_a_node_bug_in_any_route_is_a_message_not_a_bare_500(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from localsvc.node.server import make_app

    node = controller(tmp_path)

    def broken(image: str) -> list[Obj]:
        raise KeyError("metadata")  # stands for any bug behind a route

    node.restart_image = broken  # type: ignore[method-assign]

    async def main() -> tuple[int, Any, int]:
        async with TestClient(TestServer(make_app(node, "tok", "unit"))) as client:
            bad = await client.post("/v1/restart", json={"image": "web:dev"},
                                    headers={"Authorization": "Bearer tok"})
            unknown = await client.get("/v1/nothing-here", headers={"Authorization": "Bearer tok"})
            return bad.status, await bad.json(), unknown.status

    status, body, unknown = asyncio.run(main())
    assert status == 500
    assert "the node failed to answer POST /v1/restart: KeyError" in body["error"]
    assert "docker logs localsvc-unit-node" in body["error"]
    assert unknown == 404  # aiohttp's own answers pass through
