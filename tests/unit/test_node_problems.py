"""The node controller over a stored state it cannot fully serve: it starts, serves the rest and
reports the bad object (status, Service condition, Endpoints annotation); an apply that fails
changes nothing. No pods are involved, so no Docker call is made (the client is never used)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest

from localsvc.devloop.status import problems_text
from localsvc.dns.server import DnsServer
from localsvc.errors import ManifestError
from localsvc.model.load import Manifest
from localsvc.node.context import NodeConfig, NodeContext
from localsvc.node.controller import Controller
from localsvc.node.network import NetworkSync
from localsvc.node.store import Store

Obj = dict[str, Any]


def config(state_dir: Path) -> NodeConfig:
    return NodeConfig(env="unit", network="n", subnet="10.231.0.0/16", node_ip="10.231.0.2",
                      image="i", token="t", state_dir=state_dir, cluster_domain="cluster.local")


def controller(state_dir: Path, network: NetworkSync | None = None) -> Controller:
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    return Controller(NodeContext(config(state_dir), client), Store(state_dir), network)


def service(name: str, headless: bool = False) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}],
                     **({"clusterIP": "None"} if headless else {})}}


def endpoints(name: str, ip: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": "default"},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 8080}]}]}


def manifests(*objs: Obj) -> list[Manifest]:
    return [Manifest(obj=o, file="t.yaml", line=1) for o in objs]


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
    assert node.list_objects("Deployment", "default")[0]["metadata"]["annotations"][
        "localsvc.io/problems"]


def test_corrupt_state_file_starts_empty_and_says_where_the_copy_is(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "state.json").write_text('{"objects": {"Service/default/x"')
    node = controller(tmp_path)
    error = node.status()["stateError"]
    copy = next(tmp_path.glob("state.json.corrupt-*"))
    assert str(copy) in error and node.state.objects == {}
    assert problems_text(node.status()).startswith(f"error: {error}")


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
