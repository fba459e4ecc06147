"""NetworkSync programs the dataplane only when what it programs changed: a snapshot that
changes pods alone (a pod came or went without changing an endpoint) updates DNS only."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from localsvc.dns.server import DnsServer
from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, ServicePort, Snapshot
from localsvc.node.network import NetworkSync, programmed_part
from tests.unit.node_builders import RecordingDataplane


def _snapshot(version: int, endpoints: tuple[str, ...], pods: tuple[str, ...]) -> Snapshot:
    service = ServiceInfo("default", "web", "ClusterIP", "10.9.128.5",
                          (ServicePort("", "TCP", 80),),
                          tuple(Endpoint(ip, True, {"": 8080}) for ip in endpoints))
    return Snapshot(services=(service,), version=version, dns_ip="10.9.128.10",
                    pods=tuple(PodInfo("default", f"p{n}", ip, f"p{n}", None)
                               for n, ip in enumerate(pods)))


async def _settle(sync: NetworkSync, version: int) -> None:
    for _ in range(200):
        if sync.applied_version == version:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"snapshot {version} was not taken (at {sync.applied_version})")


def test_a_pod_only_change_updates_dns_but_does_not_reprogram_the_dataplane() -> None:
    async def scenario() -> None:
        dataplane = RecordingDataplane()
        dns = DnsServer(["127.0.0.1"], 0, upstream=[])
        sync = NetworkSync(dataplane, dns)
        task = asyncio.create_task(sync.run())
        try:
            sync.update(_snapshot(1, ("10.9.0.7",), ("10.9.0.7",)))
            await _settle(sync, 1)
            sync.update(_snapshot(2, ("10.9.0.7",), ("10.9.0.7", "10.9.0.8")))  # a new pod
            await _settle(sync, 2)
            assert dns.index.lookup("10-9-0-8.default.pod.cluster.local") is not None
            assert len(dataplane.applied) == 1 and sync.dataplane_applies == 1
            sync.update(_snapshot(3, ("10.9.0.7", "10.9.0.8"), ("10.9.0.7", "10.9.0.8")))
            await _settle(sync, 3)
            assert len(dataplane.applied) == 2  # an endpoint changed: programmed again
            assert [e.ip for e in dataplane.applied[-1].services[0].endpoints] == [
                "10.9.0.7", "10.9.0.8"]
        finally:
            task.cancel()
    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_programmed_part_ignores_pods_and_version_only() -> None:
    base = _snapshot(1, ("10.9.0.7",), ())
    assert programmed_part(base) == programmed_part(replace(base, version=9, pods=(
        PodInfo("default", "p", "10.9.0.9", "p", None),)))
    assert programmed_part(base) != programmed_part(replace(base, node_ip="10.9.0.2"))
    assert programmed_part(base) != programmed_part(_snapshot(1, (), ()))


def test_a_dataplane_with_a_listener_to_retry_is_applied_again_on_any_change() -> None:
    class RetryingDataplane(RecordingDataplane):
        needs_retry = True

    async def scenario() -> None:
        dataplane = RetryingDataplane()
        sync = NetworkSync(dataplane, None)
        task = asyncio.create_task(sync.run())
        try:
            sync.update(_snapshot(1, ("10.9.0.7",), ("10.9.0.7",)))
            await _settle(sync, 1)
            sync.update(_snapshot(2, ("10.9.0.7",), ("10.9.0.7", "10.9.0.8")))
            await _settle(sync, 2)
            assert len(dataplane.applied) == 2
        finally:
            task.cancel()
    asyncio.run(asyncio.wait_for(scenario(), 10))
