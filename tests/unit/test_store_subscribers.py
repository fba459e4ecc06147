"""The object store's watch events drive the DNS index, the dataplane and the svclb reconcile:
each subscriber lists once, resumes from its resourceVersion, lists again when too old (TooOld),
and acts only on what changed (no Docker: a recording dataplane, a DNS server never started)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from localsvc.dns.server import DnsServer
from localsvc.model.snapshot import Snapshot
from localsvc.model.storesnapshot import StoreSnapshot
from localsvc.node.network import NetworkSync
from localsvc.node.services import kube_dns_info
from localsvc.node.objectstore import ObjectStore
from localsvc.node.subscriber import StoreSubscriber
from tests.unit.node_builders import (
    RecordingDataplane,
    controller,
    manifests,
    service,
)

Obj = dict[str, Any]


def obj(kind: str, name: str, **fields: Any) -> Obj:
    return {"kind": kind, "metadata": {"name": name, "namespace": "default"}, **fields}


# ---- the subscriber: list, resume, TooOld ----------------------------------------------------

def test_a_subscriber_lists_first_then_gets_only_its_kinds_changes() -> None:
    store = ObjectStore()
    store.put("Service/default/web", obj("Service", "web", spec={"ports": []}))
    sub = StoreSubscriber(store, {"Service"})
    first = sub.changes()
    assert first.relisted and sub.relists == 1
    assert not sub.changes()  # nothing since the list
    store.put("ConfigMap/default/c", obj("ConfigMap", "c", data={"a": "1"}))
    assert not sub.changes()  # not its kind
    store.put("Service/default/db", obj("Service", "db", spec={"ports": []}))
    changed = sub.changes()
    assert not changed.relisted and changed.keys == {"Service/default/db"}
    assert changed.touches({"Service"}) and not changed.touches({"Pod"})
    assert sub.resource_version == store.resource_version


def test_a_subscriber_that_fell_out_of_the_window_lists_again() -> None:
    store = ObjectStore(window=3)
    sub = StoreSubscriber(store, {"ConfigMap"})
    sub.changes()
    for n in range(5):  # more events than the window keeps
        store.put(f"ConfigMap/default/c{n}", obj("ConfigMap", f"c{n}", data={}))
    again = sub.changes()
    assert again.relisted and sub.relists == 2
    store.put("ConfigMap/default/c9", obj("ConfigMap", "c9", data={}))
    assert sub.changes().keys == {"ConfigMap/default/c9"}  # resumes from the re-list


def test_a_compacted_store_a_node_restart_makes_subscribers_list_again() -> None:
    store = ObjectStore()
    sub = StoreSubscriber(store, {"Pod"})
    sub.changes()
    store.put("Pod/default/p", obj("Pod", "p", spec={}))
    store.put("Pod/default/q", obj("Pod", "q", spec={}))
    store.compact()
    assert sub.changes().relisted


# ---- NetworkSync on the store's events --------------------------------------------------------

def _web(cluster_ip: str = "10.9.128.5") -> Obj:
    return obj("Service", "web", spec={"clusterIP": cluster_ip,
                                       "ports": [{"name": "http", "port": 80}]})


def _slice(*ips: str, owner: str = "web") -> Obj:
    piece = obj("EndpointSlice", f"{owner}-x", addressType="IPv4",
                ports=[{"name": "http", "port": 8080}],
                endpoints=[{"addresses": [ip], "conditions": {"ready": True}} for ip in ips])
    piece["metadata"]["labels"] = {"kubernetes.io/service-name": owner}
    return piece


def _following(store: ObjectStore, dataplane: Any, dns: Any) -> NetworkSync:
    sync = NetworkSync(dataplane, dns)
    sync.subscribe(store, StoreSnapshot("cluster.local", "10.9.128.10", "10.9.0.2",
                                        kube_dns_info("10.9.128.10", "10.9.0.2")))
    return sync


async def _settled(sync: NetworkSync) -> None:
    for _ in range(400):
        if sync.version is not None and sync.applied_version == sync.version:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"snapshot {sync.version} was not taken (at {sync.applied_version})")


def test_the_snapshot_is_derived_from_the_stores_services_and_slices_only() -> None:
    async def scenario() -> None:
        store, dataplane = ObjectStore(), RecordingDataplane()
        dns = DnsServer(["127.0.0.1"], 0, upstream=[])
        sync = _following(store, dataplane, dns)
        task = asyncio.create_task(sync.run())
        try:
            store.put("Service/default/web", _web())
            store.put("EndpointSlice/default/web-x", _slice("10.9.0.7"))
            store.put("Service/default/db", obj("Service", "db", spec={
                "clusterIP": "10.9.128.6", "ports": [{"name": "http", "port": 80}]}))
            sync.catch_up()  # the first list
            await _settled(sync)
            assert len(dataplane.applied) == 1 and sync.dns_updates == 1
            assert [(s.name, s.cluster_ip) for s in dataplane.applied[0].services] == [
                ("kube-dns", "10.9.128.10"), ("db", "10.9.128.6"), ("web", "10.9.128.5")]
            web = dataplane.applied[0].services[2]
            assert [(e.ip, e.ports) for e in web.endpoints] == [("10.9.0.7", {"http": 8080})]
            # A new pod: its DNS record; no Service nor endpoint changed, no ruleset.
            store.put("Pod/default/p0", obj("Pod", "p0", spec={}, status={"podIP": "10.9.0.20"}))
            sync.catch_up()
            await _settled(sync)
            assert dns.index.lookup("10-9-0-20.default.pod.cluster.local") is not None
            assert len(dataplane.applied) == 1 and sync.dns_updates == 2
            # The pod's status changes, not its IP: the snapshot is the same, nothing is updated.
            version = sync.version
            store.put("Pod/default/p0", obj("Pod", "p0", spec={},
                                            status={"podIP": "10.9.0.20", "phase": "Running"}))
            sync.catch_up()
            assert sync.version == version and sync.dns_updates == 2
            # An endpoint joins: the slice event re-renders the ruleset and web's records only.
            before = dns.index
            store.put("EndpointSlice/default/web-x", _slice("10.9.0.7", "10.9.0.8"))
            sync.catch_up()
            await _settled(sync)
            assert len(dataplane.applied) == 2
            assert [e.ip for e in dataplane.applied[-1].services[2].endpoints] == [
                "10.9.0.7", "10.9.0.8"]
            ident_db, ident_web = ("default", "db"), ("default", "web")
            assert dns.index.services[ident_db] is before.services[ident_db]
            assert dns.index.services[ident_web] is not before.services[ident_web]
            # The Service goes: its rules and records go.
            store.delete("Service/default/web")
            sync.catch_up()
            await _settled(sync)
            assert [s.name for s in dataplane.applied[-1].services] == ["kube-dns", "db"]
            assert ident_web not in dns.index.services
        finally:
            task.cancel()
    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_a_store_following_sync_takes_no_snapshot_from_outside() -> None:
    sync = _following(ObjectStore(), None, None)
    with pytest.raises(RuntimeError, match="derives its own"):
        sync.update(Snapshot())


def test_dns_lists_again_after_too_old_and_is_rebuilt_from_the_store() -> None:
    store = ObjectStore(window=2)
    dns = DnsServer(["127.0.0.1"], 0, upstream=[])
    sync = _following(store, None, dns)
    store.put("Service/default/web", _web())
    sync.catch_up()
    assert sync.dns_updates == 1
    for n in range(4):  # beyond the window; one of them a Service
        store.put(f"ConfigMap/default/c{n}", obj("ConfigMap", f"c{n}", data={}))
    store.put("Service/default/web", _web("10.9.128.7"))
    sync.catch_up()
    assert sync.dns_updates == 2  # re-listed, and the re-list holds the changed Service
    assert dns.index.services[("default", "web")] is not None
    sync.catch_up()
    assert sync.dns_updates == 2


# ---- svclb: only a Service event computes forwarders ------------------------------------------

def test_svclb_is_reconciled_only_after_a_service_event(tmp_path: Path) -> None:
    node = controller(tmp_path)
    computed: list[int] = []
    desired = node._desired_forwarders

    def counting(services: dict[str, Obj]) -> Any:
        computed.append(len(services))
        return desired(services)

    node._desired_forwarders = counting  # type: ignore[method-assign]
    node._svclb_applied = {}  # nothing to forward yet, and that is applied
    node._reconcile_forwarders()  # the first list
    assert len(computed) == 1
    node.objects.put("Pod/default/p", obj("Pod", "p", spec={}, status={"podIP": "10.9.0.7"}))
    node._reconcile_forwarders()
    assert len(computed) == 1  # a pod event touches no forwarder
    node.apply(manifests(service("web")), prune=False)
    node._reconcile_forwarders()
    assert len(computed) == 2
    assert node._svclb_task is None  # a ClusterIP Service: nothing to start


# ---- the controller's snapshot: rebuilt only when one of its inputs changed -------------------

def test_a_sync_that_changed_no_input_rebuilds_no_snapshot(tmp_path: Path,
                                                           monkeypatch: Any) -> None:
    from localsvc.node import services as svc
    built: list[int] = []
    checked = svc.checked_snapshot

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return checked(*args, **kwargs)

    monkeypatch.setattr(svc, "checked_snapshot", counting)
    node = controller(tmp_path)
    node.apply(manifests(service("web")), prune=False)
    count, version = len(built), node.snapshot.version
    node.sync()
    node.sync()
    assert len(built) == count and node.snapshot.version == version
    node.apply(manifests(service("db")), prune=False)
    assert len(built) == count + 1
    assert {s.name for s in node.snapshot.services} >= {"web", "db"}
