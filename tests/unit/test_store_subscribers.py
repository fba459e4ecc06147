"""The object store's watch events drive the DNS index, the dataplane and the svclb reconcile:
each subscriber lists once, resumes from its resourceVersion, lists again when too old (TooOld),
and acts only on what changed (no Docker: a recording dataplane, a DNS server never started)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from localsvc.dns.server import DnsServer
from localsvc.model.snapshot import Snapshot
from localsvc.node.network import NetworkSync
from localsvc.node.objectstore import ObjectStore
from localsvc.node.subscriber import StoreSubscriber
from tests.unit.node_builders import (
    RecordingDataplane,
    controller,
    manifests,
    service,
    service_info,
)

Obj = dict[str, Any]


def obj(kind: str, name: str, **fields: Any) -> Obj:
    return {"kind": kind, "metadata": {"name": name, "namespace": "default"}, **fields}


def snapshot(version: int, web_endpoints: tuple[str, ...], pods: int = 0) -> Snapshot:
    from localsvc.model.snapshot import PodInfo
    return Snapshot(services=(service_info("web", "10.9.128.5", web_endpoints),
                              service_info("db", "10.9.128.6", ("10.9.0.9",))),
                    version=version, dns_ip="10.9.128.10",
                    pods=tuple(PodInfo("default", f"p{n}", f"10.9.0.{20 + n}", f"p{n}", None)
                               for n in range(pods)))


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

async def _settled(sync: NetworkSync, version: int) -> None:
    for _ in range(400):
        if sync.applied_version == version:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"snapshot {version} was not taken (at {sync.applied_version})")


def test_a_pod_event_changing_no_endpoint_renders_no_ruleset_but_updates_dns() -> None:
    async def scenario() -> None:
        store, dataplane = ObjectStore(), RecordingDataplane()
        dns = DnsServer(["127.0.0.1"], 0, upstream=[])
        sync = NetworkSync(dataplane, dns)
        sync.subscribe(store)
        task = asyncio.create_task(sync.run())
        try:
            sync.update(snapshot(1, ("10.9.0.7",)))
            sync.catch_up()  # the first list
            await _settled(sync, 1)
            assert len(dataplane.applied) == 1 and sync.dns_updates == 1
            # A new pod: its own event, its DNS record; no Service nor endpoint changed.
            sync.update(snapshot(2, ("10.9.0.7",), pods=1))
            store.put("Pod/default/p0", obj("Pod", "p0", spec={}, status={"podIP": "10.9.0.20"}))
            sync.catch_up()
            await _settled(sync, 2)
            assert dns.index.lookup("10-9-0-20.default.pod.cluster.local") is not None
            assert len(dataplane.applied) == 1 and sync.dns_updates == 2
            # The pod's status changes, the snapshot does not: DNS is left as it is too.
            store.put("Pod/default/p0", obj("Pod", "p0", spec={}, status={"phase": "Running"}))
            sync.catch_up()
            await asyncio.sleep(0.05)
            assert sync.dns_updates == 2 and len(dataplane.applied) == 1
            # An endpoint changes: the Endpoints event re-renders the ruleset.
            before = dns.index
            sync.update(snapshot(3, ("10.9.0.7", "10.9.0.8"), pods=1))
            store.put("Endpoints/default/web", obj("Endpoints", "web", subsets=[]))
            sync.catch_up()
            await _settled(sync, 3)
            assert len(dataplane.applied) == 2
            # One Service's change updated only its DNS records: db's are the same objects.
            ident_db, ident_web = ("default", "db"), ("default", "web")
            assert dns.index.services[ident_db] is before.services[ident_db]
            assert dns.index.services[ident_web] is not before.services[ident_web]
        finally:
            task.cancel()
    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_a_snapshot_without_a_store_event_programs_nothing() -> None:
    """With the store, events decide: a new snapshot alone (no event) is not applied."""
    async def scenario() -> None:
        store, dataplane = ObjectStore(), RecordingDataplane()
        sync = NetworkSync(dataplane, None)
        sync.subscribe(store)
        task = asyncio.create_task(sync.run())
        try:
            sync.update(snapshot(1, ("10.9.0.7",)))
            await _settled(sync, 1)
            sync.update(snapshot(2, ("10.9.0.8",)))
            await _settled(sync, 2)
            assert len(dataplane.applied) == 1
            store.put("EndpointSlice/default/web-x", obj("EndpointSlice", "web-x", endpoints=[]))
            await asyncio.sleep(0.05)  # the store's listener woke the sync task
            assert len(dataplane.applied) == 2
            assert [e.ip for e in dataplane.applied[-1].services[0].endpoints] == ["10.9.0.8"]
        finally:
            task.cancel()
    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_dns_lists_again_after_too_old_and_is_rebuilt_from_the_latest_snapshot() -> None:
    store = ObjectStore(window=2)
    dns = DnsServer(["127.0.0.1"], 0, upstream=[])
    sync = NetworkSync(None, dns)
    sync.subscribe(store)
    sync.update(snapshot(1, ("10.9.0.7",)))
    sync.catch_up()
    assert sync.dns_updates == 1
    for n in range(4):  # beyond the window, and nothing the DNS index watches
        store.put(f"ConfigMap/default/c{n}", obj("ConfigMap", f"c{n}", data={}))
    sync.catch_up()
    assert sync.dns_updates == 2  # re-listed: everything counts as changed
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
