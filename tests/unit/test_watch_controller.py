"""The controller publishes its objects into the object store after each sync: every real
change is one watch event, a sync that changed nothing is none, and the counter survives a
restart. No pods are involved, so no Docker call is made (the client is never used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker

from localsvc.dns.server import DnsServer
from localsvc.model.load import Manifest
from localsvc.model.nodeconfig import NodeConfig
from localsvc.node.context import NodeContext
from localsvc.node.controller import Controller
from localsvc.node.network import NetworkSync
from localsvc.node.objectstore import ObjectStore, TooOld
from localsvc.node.publish import ObjectPublisher
from localsvc.node.store import Store

Obj = dict[str, Any]


def controller(state_dir: Path, network: NetworkSync | None = None) -> Controller:
    config = NodeConfig(env="unit", network="n", subnet="10.231.0.0/16", node_ip="10.231.0.2",
                        image="i", token="t", state_dir=state_dir, cluster_domain="cluster.local")
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    return Controller(NodeContext(config, client), Store(state_dir), network)


def service(name: str, port: int = 80) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": port, "targetPort": 8080}]}}


def endpoints(name: str, ip: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": "default"},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 8080}]}]}


def config_map(name: str, value: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"k": value}}


def manifests(*objs: Obj) -> list[Manifest]:
    return [Manifest(obj=o, file="t.yaml", line=1) for o in objs]


def test_applied_objects_are_published_with_allocations_and_each_change_is_one_event(
        tmp_path: Path) -> None:
    node = controller(tmp_path)
    watcher = node.objects.watcher()
    node.apply(manifests(service("web"), endpoints("web", "10.231.0.7"),
                         config_map("c", "1")), prune=False)
    events = watcher.poll()
    assert sorted((e.type, e.key.rsplit("-", 1)[0] if "Slice" in e.key else e.key)
                  for e in events) == [
        ("ADDED", "ConfigMap/default/c"), ("ADDED", "EndpointSlice/default/web"),
        ("ADDED", "Endpoints/default/web"), ("ADDED", "Service/default/web")]
    slice_ = next(e.object for e in events if e.key.startswith("EndpointSlice/"))
    assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    owner = node.state.objects["Service/default/web"]["metadata"]["uid"]
    assert [(r["kind"], r["name"], r["uid"]) for r in slice_["metadata"]["ownerReferences"]] == [
        ("Service", "web", owner)]
    published = node.objects.get("Service/default/web")
    assert published is not None
    assert published["spec"]["clusterIP"] == node.allocations["default/web"]
    assert "generation" not in published["metadata"]  # a Service has none in 1.32
    versions = [e.resource_version for e in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)

    node.apply(manifests(service("web"), endpoints("web", "10.231.0.7"),
                         config_map("c", "1")), prune=False)
    node.sync()
    assert watcher.poll() == []  # unchanged apply and idle sync: no event

    node.apply(manifests(config_map("c", "2")), prune=False)
    assert [(e.type, e.key) for e in watcher.poll()] == [("MODIFIED", "ConfigMap/default/c")]

    node.apply(manifests(service("web", 81)), prune=False)
    changed = {e.key: e for e in watcher.poll()}
    assert changed["Service/default/web"].object["spec"]["ports"][0]["port"] == 81
    assert "ConfigMap/default/c" not in changed

    node.delete(["ConfigMap/default/c"])
    assert [(e.type, e.key) for e in watcher.poll()] == [("DELETED", "ConfigMap/default/c")]
    assert node.status()["resourceVersion"] == str(node.objects.resource_version)


def test_the_resource_version_never_goes_back_across_a_node_restart(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("web"), config_map("c", "1")), prune=False)
    seen = node.objects.resource_version
    node.store.save(node.state)
    restarted = controller(tmp_path)
    assert restarted.state.resource_version >= seen
    try:
        restarted.objects.events_since(seen)
        raise AssertionError("a version from before the restart resumed")
    except TooOld:
        pass
    restarted.apply(manifests(config_map("c", "2")), prune=False)
    assert restarted.objects.resource_version > seen


def test_an_idle_sync_changes_no_snapshot_and_hands_the_dns_index_nothing(
        tmp_path: Path) -> None:
    dns = DnsServer(["127.0.0.1"], 0, upstream=[])
    node = controller(tmp_path, NetworkSync(None, dns))
    node.apply(manifests(service("web"), endpoints("web", "10.231.0.7")), prune=False)
    version, index = node.snapshot.version, dns.index
    node.apply(manifests(config_map("c", "1")), prune=False)  # nothing the network holds
    node.sync()
    assert node.snapshot.version == version and dns.index is index
    node.apply(manifests(endpoints("web", "10.231.0.8")), prune=False)
    assert node.snapshot.version == version + 1 and dns.index is not index


def test_publisher_renders_only_entries_whose_fingerprint_changed() -> None:
    store = ObjectStore()
    publisher = ObjectPublisher(store)
    rendered: list[str] = []

    def entry(name: str, value: str) -> tuple[Any, Any]:
        def render() -> Obj:
            rendered.append(name)
            return config_map(name, value)
        return value, render

    publisher.publish("cm", {"ConfigMap/default/a": entry("a", "1"),
                             "ConfigMap/default/b": entry("b", "1")})
    assert rendered == ["a", "b"]
    events = publisher.publish("cm", {"ConfigMap/default/a": entry("a", "1"),
                                      "ConfigMap/default/b": entry("b", "2")})
    assert rendered == ["a", "b", "b"]
    assert [(e.type, e.key) for e in events] == [("MODIFIED", "ConfigMap/default/b")]
    events = publisher.publish("cm", {"ConfigMap/default/b": entry("b", "2")})
    assert [(e.type, e.key) for e in events] == [("DELETED", "ConfigMap/default/a")]
    store.put("Secret/default/s", {"kind": "Secret", "metadata": {"name": "s"}})
    publisher.publish("other", {})
    assert sorted(store.keys()) == ["ConfigMap/default/b", "Secret/default/s"]
    publisher.publish("cm", {})
    assert store.keys() == ["Secret/default/s"]  # not the publisher's: left alone


def test_a_snapshot_change_of_one_service_republishes_only_its_endpoints(
        tmp_path: Path) -> None:
    from dataclasses import replace

    from localsvc.model.snapshot import Endpoint
    node = controller(tmp_path)
    selected = [{**service(n), "spec": {**service(n)["spec"], "selector": {"app": n}}}
                for n in ("a", "b", "c")]
    node.apply(manifests(*selected), prune=False)
    watcher = node.objects.watcher()
    before = {k: node.objects.get(k) for k in node.objects.keys()}
    # As a pod's readiness flip does: one Service's endpoints change, nothing stored does.
    services = tuple(replace(s, endpoints=(Endpoint("10.231.0.9", True, {"": 8080}),))
                     if s.name == "b" else s for s in node.snapshot.services)
    node.snapshot = replace(node.snapshot, services=services, version=node.snapshot.version + 1)
    node._publish()
    events = watcher.poll()
    # (a slice's name follows its ports: the empty slice goes, the one with the port comes)
    assert ("MODIFIED", "Endpoints/default/b") in {(e.type, e.key) for e in events}
    assert {e.key.rsplit("-", 1)[0] if "Slice" in e.key else e.key for e in events} == {
        "Endpoints/default/b", "EndpointSlice/default/b"}
    slices = [k for k in node.objects.keys() if k.startswith("EndpointSlice/default/b-")]
    assert len(slices) == 1
    addresses = node.objects.get("Endpoints/default/b")["subsets"][0]["addresses"]  # type: ignore[index]
    assert [a["ip"] for a in addresses] == ["10.231.0.9"]
    for key in ("Endpoints/default/a", "Endpoints/default/c", "Service/default/b"):
        assert node.objects.get(key) is before[key]  # not rendered again
