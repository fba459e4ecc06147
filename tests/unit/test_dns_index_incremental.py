"""The incremental DNS index (dns/index.py): a build from the previous index gives exactly the
index a build from nothing gives, and names the changed names exactly, over random walks of
Services (ClusterIP, headless with hostnames, ExternalName, bad ones) and pods (shared and
clashing addresses, bad namespaces); and an endpoint change touches only its Service's names."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from localsvc.dns.index import DnsIndex, changed_names
from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, ServicePort, Snapshot

Z = "cluster.local"


def random_service(rng: random.Random, i: int) -> ServiceInfo:
    ns = rng.choice(["default", "shop"])
    ports = (ServicePort("http", "TCP", 80), ServicePort("", "UDP", 53))[: rng.randint(1, 2)]
    eps = tuple(Endpoint(f"10.0.0.{rng.randint(1, 6)}", rng.random() < 0.8, {"http": 8080},
                         hostname=rng.choice([None, None, "h0", f"h{rng.randint(1, 2)}"]))
                for _ in range(rng.randint(0, 3)))
    kind = rng.choice(["ClusterIP", "ClusterIP", "headless", "ExternalName"])
    if kind == "ExternalName":
        return ServiceInfo(ns, f"s{i}", "ExternalName", None, external_name="db.example.com")
    # ClusterIPs that clash now and then (PTR precedence), one bad address now and then
    ip = None if kind == "headless" else rng.choice(
        [f"10.96.0.{i}", f"10.96.0.{i}", "10.0.0.1", "fd00::1%x"])
    return ServiceInfo(ns, f"s{i}", "ClusterIP", ip, ports, eps)


def random_snapshot(rng: random.Random, version: int) -> Snapshot:
    services = tuple(random_service(rng, i) for i in rng.sample(range(8), rng.randint(0, 6)))
    pods = tuple(PodInfo(rng.choice(["default", "shop", "Bad_NS"]), f"p{i}",
                         f"10.0.0.{rng.randint(1, 6)}", f"p{i}", None)
                 for i in rng.sample(range(8), rng.randint(0, 6)))
    return Snapshot(services=services, pods=pods, dns_ip="10.96.0.10", version=version)


def whole_diff(old: DnsIndex, new: DnsIndex) -> set[str]:
    """changed_names computed by comparing every name (as for unrelated indexes)."""
    return changed_names(replace(old), replace(new, base=None))


def same(a: DnsIndex, b: DnsIndex) -> None:
    assert a.records == b.records
    assert a.additional == b.additional
    assert a.empty_names == b.empty_names
    assert sorted(map(str, a.problems)) == sorted(map(str, b.problems))
    assert (a.zone, a.version, a.soa) == (b.zone, b.version, b.soa)


@pytest.mark.parametrize("seed", range(30))
def test_incremental_build_equals_the_build_from_nothing(seed: int) -> None:
    rng = random.Random(seed)
    current = random_snapshot(rng, 1)
    index = DnsIndex.build(current)
    for version in range(2, 25):
        new = random_snapshot(rng, version) if rng.random() < 0.4 else replace(
            current, version=version,
            services=tuple(random_service(rng, int(s.name[1:])) if rng.random() < 0.3 else s
                           for s in current.services))
        built = DnsIndex.build(new, previous=index)
        same(built, DnsIndex.build(new))
        assert changed_names(index, built) == whole_diff(index, built)
        index, current = built, new


def test_an_endpoint_change_touches_only_its_service() -> None:
    services = tuple(ServiceInfo("default", f"s{i}", "ClusterIP", f"10.96.1.{i}",
                                 (ServicePort("http", "TCP", 80),),
                                 (Endpoint(f"10.0.1.{i}", True, {"http": 8080}),))
                     for i in range(200))
    pods = tuple(PodInfo("default", f"p{i}", f"10.0.1.{i}", f"p{i}", None) for i in range(200))
    old = DnsIndex.build(Snapshot(services=services, pods=pods, version=1))
    headless = ServiceInfo("default", "s7", "ClusterIP", None, (ServicePort("http", "TCP", 80),),
                           (Endpoint("10.0.1.7", True, {"http": 8080}),))
    new = DnsIndex.build(Snapshot(services=(*services[:7], headless, *services[8:]), pods=pods,
                                  version=2), previous=old)
    base = f"s7.default.svc.{Z}"
    assert changed_names(old, new) == {Z, base, f"10-0-1-7.{base}", f"_http._tcp.{base}",
                                       "7.1.96.10.in-addr.arpa"}  # its ClusterIP's PTR gone
    # untouched Services' records are the very same objects
    assert new.records[f"s8.default.svc.{Z}"] is old.records[f"s8.default.svc.{Z}"]


def test_another_dns_address_builds_from_nothing() -> None:
    old = DnsIndex.build(Snapshot(dns_ip="10.96.0.10", version=1))
    new = DnsIndex.build(Snapshot(dns_ip="10.96.0.11", version=2), previous=old)
    same(new, DnsIndex.build(Snapshot(dns_ip="10.96.0.11", version=2)))
    assert f"ns.dns.{Z}" in changed_names(old, new)
