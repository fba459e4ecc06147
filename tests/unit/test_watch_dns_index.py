"""The DNS index built from the previous one: only the Services that changed are built again,
and the result answers exactly as an index built from scratch."""

from __future__ import annotations

from dataclasses import replace

from dnslib import QTYPE

from localsvc.dns.index import DnsIndex, changed_names
from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, Snapshot
from tests.unit.node_builders import service_info


def _snapshot(*services: ServiceInfo, version: int = 1) -> Snapshot:
    return Snapshot(services=services, version=version, dns_ip="10.9.128.10",
                    pods=(PodInfo("default", "p", "10.9.0.7", "p", None),))


def _texts(index: DnsIndex) -> dict[str, dict[int, list[str]]]:
    return {name: {t: sorted(str(rr) for rr in rrs) for t, rrs in by.items()}
            for name, by in index.records.items()}


def test_only_the_changed_service_is_built_again() -> None:
    a, b = service_info("a", "10.9.128.5"), service_info("b", None, ("10.9.0.7",))
    c = service_info("c", "10.9.128.6")
    first = DnsIndex.build(_snapshot(a, b, c))
    b2 = replace(b, endpoints=(Endpoint("10.9.0.8", True, {"http": 8080}),))
    second_snapshot = _snapshot(a, b2, c, version=2)
    second = DnsIndex.build(second_snapshot, previous=first)
    assert second.services[("default", "a")] is first.services[("default", "a")]
    assert second.services[("default", "c")] is first.services[("default", "c")]
    assert second.services[("default", "b")] is not first.services[("default", "b")]
    scratch = DnsIndex.build(second_snapshot)
    assert _texts(second) == _texts(scratch)
    assert second.empty_names == scratch.empty_names
    assert "b.default.svc.cluster.local" in second.records
    assert second.lookup("10-9-0-8.b.default.svc.cluster.local") is not None
    assert second.lookup("10-9-0-7.b.default.svc.cluster.local") is None


def test_a_removed_service_leaves_no_records_and_an_added_one_is_built() -> None:
    a, b = service_info("a", "10.9.128.5"), service_info("b", "10.9.128.6")
    first = DnsIndex.build(_snapshot(a, b))
    second = DnsIndex.build(_snapshot(a, service_info("d", "10.9.128.7"), version=2),
                            previous=first)
    assert "b.default.svc.cluster.local" not in second.records
    assert "d.default.svc.cluster.local" in second.records
    assert set(second.services) == {("default", "a"), ("default", "d")}
    assert second.services[("default", "a")] is first.services[("default", "a")]


def test_an_unservable_service_is_reported_again_when_reused() -> None:
    bad = service_info("bad", "10.9.128.5", ("fd00::1%x",))
    first = DnsIndex.build(_snapshot(bad))
    second = DnsIndex.build(_snapshot(bad, version=2), previous=first)
    assert first.problems and second.problems == first.problems


def test_another_cluster_domain_reuses_nothing() -> None:
    a = service_info("a", "10.9.128.5")
    first = DnsIndex.build(_snapshot(a))
    other = DnsIndex.build(replace(_snapshot(a), cluster_domain="example.internal"),
                           previous=first)
    assert "a.default.svc.example.internal" in other.records
    assert other.services[("default", "a")] is not first.services[("default", "a")]


def test_pod_and_ptr_records_of_unchanged_pods_are_reused() -> None:
    a = service_info("a", "10.9.128.5")
    pods = (PodInfo("default", "p", "10.9.0.7", "p", None),
            PodInfo("other", "q", "10.9.0.8", "q", None))
    first = DnsIndex.build(replace(_snapshot(a), pods=pods))
    moved = (pods[0], replace(pods[1], ip="10.9.0.9"))
    second_snapshot = replace(_snapshot(a, version=2), pods=moved)
    second = DnsIndex.build(second_snapshot, previous=first)
    kept, ptr = "10-9-0-7.default.pod.cluster.local", "7.0.9.10.in-addr.arpa"
    assert second.records[kept][QTYPE.A][0] is first.records[kept][QTYPE.A][0]
    assert second.records[ptr][QTYPE.PTR][0] is first.records[ptr][QTYPE.PTR][0]
    assert "10-9-0-8.other.pod.cluster.local" not in second.records
    assert "8.0.9.10.in-addr.arpa" not in second.records
    assert str(second.records["9.0.9.10.in-addr.arpa"][QTYPE.PTR][0].rdata) == \
        "10-9-0-9.other.pod.cluster.local."
    assert _texts(second) == _texts(DnsIndex.build(second_snapshot))
    assert changed_names(first, second) == {
        "cluster.local",  # the SOA serial
        "10-9-0-8.other.pod.cluster.local", "8.0.9.10.in-addr.arpa",
        "10-9-0-9.other.pod.cluster.local", "9.0.9.10.in-addr.arpa",
    }
