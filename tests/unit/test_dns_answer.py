"""Table-driven tests of the cluster DNS answers (localsvc.dns.answer) over a hand-built Snapshot."""

from __future__ import annotations

import pytest
from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSHeader, DNSRecord

from localsvc.dns.answer import (
    answer,
    cname_to_chase,
    formerr_from_wire,
    truncate_for_udp,
    udp_payload_limit,
)
from localsvc.dns.index import DnsIndex
from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, ServicePort, Snapshot

Z = "cluster.local"


def many_endpoints(n: int) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(f"10.0.3.{i}", True, {"http": 8080}) for i in range(1, n + 1))


SNAPSHOT = Snapshot(
    version=42,
    services=(
        ServiceInfo(
            "default",
            "web",
            "ClusterIP",
            "10.96.0.10",
            ports=(
                ServicePort("http", "TCP", 80),
                ServicePort("metrics", "TCP", 9090),
                ServicePort("syslog", "UDP", 514),
            ),
            endpoints=(Endpoint("10.0.2.7", True, {"http": 8080}),),
        ),
        ServiceInfo(
            "data",
            "db",
            "ClusterIP",
            None,
            ports=(ServicePort("pg", "TCP", 5432), ServicePort("repl", "TCP", 5433)),
            endpoints=(
                Endpoint("10.0.1.1", True, {"pg": 15432, "repl": 15433}, "db-0", "db-0"),
                Endpoint("10.0.1.2", True, {"pg": 15432}, "db-1", "db-1"),
                Endpoint("10.0.1.3", True, {"pg": 15432}, "db-x", None),
                Endpoint("10.0.1.4", False, {"pg": 15432}, "db-3", "db-3"),
            ),
        ),
        ServiceInfo("data", "empty", "ClusterIP", None, ports=(ServicePort("x", "TCP", 1),)),
        ServiceInfo("default", "alias", "ExternalName", None, external_name=f"web.default.svc.{Z}"),
        ServiceInfo("default", "ext", "ExternalName", None, external_name="WWW.Example.com"),
        ServiceInfo(
            "default",
            "many",
            "ClusterIP",
            None,
            ports=(ServicePort("http", "TCP", 80),),
            endpoints=many_endpoints(40),
        ),
    ),
    pods=(
        PodInfo("data", "db-0", "10.0.1.1", "db-0", "db"),
        PodInfo("data", "db-1", "10.0.1.2", "db-1", "db"),
        PodInfo("data", "db-x", "10.0.1.3", "db-x", None),
        PodInfo("default", "client", "10.0.2.5", "client", None),
    ),
)
INDEX = DnsIndex.build(SNAPSHOT)


def ask(name: str, qtype: str = "A", edns: int | None = None) -> DNSRecord:
    request = DNSRecord.question(name, qtype)
    if edns is not None:
        request.add_ar(EDNS0(udp_len=edns))
    reply = answer(request, INDEX)
    assert reply is not None, f"{name} {qtype} was forwarded"
    return reply


def rdatas(reply: DNSRecord, section: str = "rr") -> set[tuple[str, str]]:
    return {(QTYPE[rr.rtype], str(rr.rdata)) for rr in getattr(reply, section)}


SOA = (
    "SOA",
    f"ns.dns.{Z}. hostmaster.{Z}. 42 7200 1800 86400 30",
)

POSITIVE = [
    # ClusterIP Service
    (f"web.default.svc.{Z}", "A", {("A", "10.96.0.10")}),
    (f"_http._tcp.web.default.svc.{Z}", "SRV", {("SRV", f"0 100 80 web.default.svc.{Z}.")}),
    (f"_metrics._tcp.web.default.svc.{Z}", "SRV", {("SRV", f"0 100 9090 web.default.svc.{Z}.")}),
    (f"_syslog._udp.web.default.svc.{Z}", "SRV", {("SRV", f"0 100 514 web.default.svc.{Z}.")}),
    # headless: ready endpoints only
    (f"db.data.svc.{Z}", "A", {("A", "10.0.1.1"), ("A", "10.0.1.2"), ("A", "10.0.1.3")}),
    (f"db-0.db.data.svc.{Z}", "A", {("A", "10.0.1.1")}),
    (f"db-1.db.data.svc.{Z}", "A", {("A", "10.0.1.2")}),
    (f"10-0-1-1.db.data.svc.{Z}", "A", {("A", "10.0.1.1")}),
    (f"10-0-1-3.db.data.svc.{Z}", "A", {("A", "10.0.1.3")}),
    (
        f"_pg._tcp.db.data.svc.{Z}",
        "SRV",
        {
            ("SRV", f"0 33 15432 db-0.db.data.svc.{Z}."),
            ("SRV", f"0 33 15432 db-1.db.data.svc.{Z}."),
            ("SRV", f"0 33 15432 10-0-1-3.db.data.svc.{Z}."),
        },
    ),
    (f"_repl._tcp.db.data.svc.{Z}", "SRV", {("SRV", f"0 100 15433 db-0.db.data.svc.{Z}.")}),
    # ExternalName
    (
        f"alias.default.svc.{Z}",
        "A",
        {("CNAME", f"web.default.svc.{Z}."), ("A", "10.96.0.10")},
    ),
    (f"alias.default.svc.{Z}", "CNAME", {("CNAME", f"web.default.svc.{Z}.")}),
    (f"ext.default.svc.{Z}", "A", {("CNAME", "www.example.com.")}),
    (f"ext.default.svc.{Z}", "AAAA", {("CNAME", "www.example.com.")}),
    (f"ext.default.svc.{Z}", "TXT", {("CNAME", "www.example.com.")}),
    # pods
    (f"10-0-2-5.default.pod.{Z}", "A", {("A", "10.0.2.5")}),
    (f"10-0-1-1.data.pod.{Z}", "A", {("A", "10.0.1.1")}),
    (f"10-9-9-9.anyns.pod.{Z}", "A", {("A", "10.9.9.9")}),  # spec 2.6: any address
    # PTR
    ("10.0.96.10.in-addr.arpa", "PTR", {("PTR", f"web.default.svc.{Z}.")}),
    ("1.1.0.10.in-addr.arpa", "PTR", {("PTR", f"db-0.db.data.svc.{Z}.")}),
    ("2.1.0.10.in-addr.arpa", "PTR", {("PTR", f"db-1.db.data.svc.{Z}.")}),
    ("3.1.0.10.in-addr.arpa", "PTR", {("PTR", f"10-0-1-3.data.pod.{Z}.")}),
    ("5.2.0.10.in-addr.arpa", "PTR", {("PTR", f"10-0-2-5.default.pod.{Z}.")}),
    # schema version, zone apex
    (f"dns-version.{Z}", "TXT", {("TXT", '"1.1.0"')}),
    (Z, "SOA", {SOA}),
    (Z, "NS", {("NS", f"ns.dns.{Z}.")}),
    # ANY: everything for the name
    (f"web.default.svc.{Z}", "ANY", {("A", "10.96.0.10")}),
]


@pytest.mark.parametrize(("name", "qtype", "expected"), POSITIVE)
def test_records(name: str, qtype: str, expected: set[tuple[str, str]]) -> None:
    reply = ask(name, qtype)
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.header.aa == 1 and reply.header.ra == 1 and reply.header.qr == 1
    assert rdatas(reply) == expected
    assert all(rr.ttl == 5 for rr in reply.rr)
    assert not reply.auth


@pytest.mark.parametrize(
    ("name", "qtype"),
    [
        (f"web.default.svc.{Z}", "AAAA"),  # IPv4-only environment
        (f"web.default.svc.{Z}", "MX"),
        (f"web.default.svc.{Z}", "SRV"),
        (f"_http._tcp.web.default.svc.{Z}", "A"),
        (f"_tcp.web.default.svc.{Z}", "SRV"),  # empty non-terminal
        (f"default.svc.{Z}", "A"),
        (f"data.svc.{Z}", "A"),
        (f"svc.{Z}", "A"),
        (f"pod.{Z}", "A"),
        (f"default.pod.{Z}", "A"),
        (Z, "A"),
        (f"db-0.db.data.svc.{Z}", "AAAA"),
        (f"dns-version.{Z}", "A"),
    ],
)
def test_nodata_has_soa(name: str, qtype: str) -> None:
    reply = ask(name, qtype)
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.rr == []
    assert rdatas(reply, "auth") == {SOA}
    assert reply.auth[0].rname == Z + "."


@pytest.mark.parametrize(
    ("name", "qtype"),
    [
        (f"nope.default.svc.{Z}", "A"),
        (f"web.nons.svc.{Z}", "A"),
        (f"nope.{Z}", "A"),
        (f"_syslog._tcp.web.default.svc.{Z}", "SRV"),  # wrong protocol
        (f"_other._tcp.web.default.svc.{Z}", "SRV"),
        (f"_x._tcp.empty.data.svc.{Z}", "SRV"),
        (f"db-3.db.data.svc.{Z}", "A"),  # not ready
        (f"10-0-1-4.db.data.svc.{Z}", "A"),
        (f"empty.data.svc.{Z}", "A"),  # headless without ready endpoints (spec 2.4.1)
        (f"db-0.web.default.svc.{Z}", "A"),
        (f"10-0-2.default.pod.{Z}", "A"),
        (f"1-2-3-4-5.default.pod.{Z}", "A"),
        (f"10-0-1-999.default.pod.{Z}", "A"),
        (f"a.b.default.pod.{Z}", "A"),
    ],
)
def test_nxdomain_has_soa(name: str, qtype: str) -> None:
    reply = ask(name, qtype)
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert reply.header.aa == 1
    assert reply.rr == []
    assert rdatas(reply, "auth") == {SOA}


@pytest.mark.parametrize(
    "name",
    [
        "example.com",
        "www.example.com",
        "local",
        f"{Z}.example.com",
        f"x{Z}",
        "9.9.9.10.in-addr.arpa",  # an IP the environment does not know
        "1.0.10.in-addr.arpa",  # a parent of a known reverse name
        "in-addr.arpa",
    ],
)
def test_not_ours_is_forwarded(name: str) -> None:
    assert answer(DNSRecord.question(name, "A"), INDEX) is None
    assert answer(DNSRecord.question(name, "PTR"), INDEX) is None


def test_case_insensitive_and_question_echoed() -> None:
    reply = ask("WEB.Default.SVC.Cluster.LOCAL.", "A")
    assert rdatas(reply) == {("A", "10.96.0.10")}
    assert str(reply.q.qname) == "WEB.Default.SVC.Cluster.LOCAL."
    assert reply.q.qtype == QTYPE.A
    assert rdatas(ask("10.0.96.10.IN-ADDR.ARPA", "PTR")) == {("PTR", f"web.default.svc.{Z}.")}
    assert rdatas(ask(f"_HTTP._TCP.web.default.svc.{Z}", "SRV")) == {
        ("SRV", f"0 100 80 web.default.svc.{Z}.")
    }


def test_reply_keeps_id_and_rd() -> None:
    request = DNSRecord(DNSHeader(id=4321, rd=0), q=DNSRecord.question(f"web.default.svc.{Z}").q)
    reply = answer(request, INDEX)
    assert reply is not None
    assert reply.header.id == 4321 and reply.header.rd == 0


def test_srv_additional_section_has_target_addresses() -> None:
    clusterip = ask(f"_http._tcp.web.default.svc.{Z}", "SRV")
    assert {(str(rr.rname), str(rr.rdata)) for rr in clusterip.ar} == {
        (f"web.default.svc.{Z}.", "10.96.0.10")
    }
    headless = ask(f"_pg._tcp.db.data.svc.{Z}", "SRV")
    assert {(str(rr.rname), str(rr.rdata)) for rr in headless.ar} == {
        (f"db-0.db.data.svc.{Z}.", "10.0.1.1"),
        (f"db-1.db.data.svc.{Z}.", "10.0.1.2"),
        (f"10-0-1-3.db.data.svc.{Z}.", "10.0.1.3"),
    }


def test_headless_a_records_are_stable_and_unique() -> None:
    dup = Endpoint("10.0.5.1", True, {})
    snap = Snapshot(services=(ServiceInfo("ns", "h", "ClusterIP", None, endpoints=(dup, dup)),))
    reply = answer(DNSRecord.question(f"h.ns.svc.{Z}"), DnsIndex.build(snap))
    assert reply is not None and [str(rr.rdata) for rr in reply.rr] == ["10.0.5.1"]
    many = ask(f"many.default.svc.{Z}", "A", edns=4096)
    assert [str(rr.rdata) for rr in many.rr] == [f"10.0.3.{i}" for i in range(1, 41)]


def test_external_name_outside_zone_is_left_to_chase() -> None:
    reply = ask(f"ext.default.svc.{Z}", "A")
    assert cname_to_chase(reply, INDEX) == "www.example.com"
    assert cname_to_chase(ask(f"alias.default.svc.{Z}", "A"), INDEX) is None
    assert cname_to_chase(ask(f"ext.default.svc.{Z}", "CNAME"), INDEX) is None


def test_external_name_to_missing_in_zone_name_is_nxdomain() -> None:
    snap = Snapshot(
        services=(ServiceInfo("ns", "a", "ExternalName", None, external_name=f"gone.ns.svc.{Z}"),)
    )
    request = DNSRecord.question(f"a.ns.svc.{Z}", "A")
    reply = answer(request, DnsIndex.build(snap))
    assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN
    assert rdatas(reply) == {("CNAME", f"gone.ns.svc.{Z}.")}


def test_cname_loop_ends() -> None:
    snap = Snapshot(
        services=(
            ServiceInfo("ns", "a", "ExternalName", None, external_name=f"b.ns.svc.{Z}"),
            ServiceInfo("ns", "b", "ExternalName", None, external_name=f"a.ns.svc.{Z}"),
        )
    )
    reply = answer(DNSRecord.question(f"a.ns.svc.{Z}", "A"), DnsIndex.build(snap))
    assert reply is not None and 1 <= len(reply.rr) <= 8


def test_other_cluster_domain_and_serial() -> None:
    snap = Snapshot(cluster_domain="Corp.Internal", version=7, dns_ip="10.96.0.53")
    index = DnsIndex.build(snap)
    assert index.zone == "corp.internal"
    reply = answer(DNSRecord.question("nope.corp.internal"), index)
    assert reply is not None and reply.header.rcode == RCODE.NXDOMAIN
    assert reply.auth[0].rdata.times[0] == 7
    ns = answer(DNSRecord.question("ns.dns.corp.internal"), index)
    assert ns is not None and rdatas(ns) == {("A", "10.96.0.53")}
    assert answer(DNSRecord.question(f"web.default.svc.{Z}"), index) is None


def test_udp_truncation_of_a_large_headless_answer() -> None:
    request = DNSRecord.question(f"many.default.svc.{Z}", "A")
    reply = answer(request, INDEX)
    assert reply is not None and len(reply.rr) == 40
    assert udp_payload_limit(request) == 512
    wire = truncate_for_udp(reply, udp_payload_limit(request))
    assert len(wire) <= 512
    cut = DNSRecord.parse(wire)
    assert cut.header.tc == 1 and cut.rr == []
    assert str(cut.q.qname) == f"many.default.svc.{Z}." and cut.header.id == request.header.id


def test_edns_payload_size_lets_the_large_answer_through() -> None:
    request = DNSRecord.question(f"many.default.svc.{Z}", "A")
    request.add_ar(EDNS0(udp_len=4096))
    reply = answer(request, INDEX)
    assert reply is not None
    limit = udp_payload_limit(request)
    assert limit == 4096
    full = DNSRecord.parse(truncate_for_udp(reply, limit))
    assert full.header.tc == 0 and len(full.rr) == 40
    assert [rr.rtype for rr in full.ar] == [QTYPE.OPT]  # EDNS0 echoed


def test_edns_payload_below_512_counts_as_512() -> None:
    request = DNSRecord.question(f"web.default.svc.{Z}")
    request.add_ar(EDNS0(udp_len=100))
    assert udp_payload_limit(request) == 512


def test_truncation_drops_additional_before_setting_tc() -> None:
    reply = ask(f"_http._tcp.many.default.svc.{Z}", "SRV", edns=1232)
    assert len(reply.rr) == 40 and len(reply.ar) == 41  # 40 A + OPT
    full = len(reply.pack())
    wire = truncate_for_udp(reply, full - 1)
    slim = DNSRecord.parse(wire)
    assert slim.header.tc == 0 and len(slim.rr) == 40 and [r.rtype for r in slim.ar] == [41]


def test_small_reply_is_not_truncated() -> None:
    reply = ask(f"web.default.svc.{Z}")
    assert truncate_for_udp(reply, 512) == reply.pack()


def test_malformed_bytes_get_formerr() -> None:
    garbage = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff"
    wire = formerr_from_wire(garbage)
    assert wire is not None
    reply = DNSRecord.parse(wire)
    assert reply.header.id == 0x1234 and reply.header.qr == 1 and reply.header.rd == 1
    assert reply.header.rcode == RCODE.FORMERR
    assert formerr_from_wire(b"\x12\x34\x01") is None  # not even a header
    assert formerr_from_wire(b"\x12\x34\x81\x80" + bytes(8)) is None  # a response: no reply


def test_no_question_is_formerr() -> None:
    reply = answer(DNSRecord(DNSHeader(id=9)), INDEX)
    assert reply is not None and reply.header.rcode == RCODE.FORMERR and reply.header.id == 9


def test_two_questions_is_formerr() -> None:
    request = DNSRecord.question(f"web.default.svc.{Z}")
    request.add_question(*DNSRecord.question("example.com").questions)
    reply = answer(request, INDEX)
    assert reply is not None and reply.header.rcode == RCODE.FORMERR


@pytest.mark.parametrize("opcode", [OPCODE.IQUERY, OPCODE.STATUS, OPCODE.NOTIFY, OPCODE.UPDATE])
def test_unsupported_opcode_is_notimp(opcode: int) -> None:
    request = DNSRecord.question(f"web.default.svc.{Z}")
    request.header.opcode = opcode
    reply = answer(request, INDEX)
    assert reply is not None and reply.header.rcode == RCODE.NOTIMP
    assert reply.header.opcode == opcode


def test_zone_transfer_is_refused() -> None:
    assert ask(Z, "AXFR").header.rcode == RCODE.REFUSED


def test_index_is_keyed_by_lowercase_name() -> None:
    assert f"web.default.svc.{Z}" in INDEX.records
    assert f"data.svc.{Z}" in INDEX.empty_names
    assert INDEX.lookup(f"db.data.svc.{Z}") is not None
    assert INDEX.lookup(f"nope.data.svc.{Z}") is None


# ---- stored objects the index cannot serve: skipped and reported, the rest unaffected ----------

def bad_object_snapshot(bad: ServiceInfo) -> Snapshot:
    return Snapshot(
        version=7,
        services=(
            ServiceInfo("default", "good", "ClusterIP", "10.96.0.20",
                        ports=(ServicePort("http", "TCP", 80),)),
            bad,
            ServiceInfo("default", "peers", "ClusterIP", None,
                        ports=(ServicePort("http", "TCP", 80),),
                        endpoints=(Endpoint("10.0.4.1", True, {"http": 80}),)),
        ),
        pods=(PodInfo("default", "client", "10.0.2.5", "client", None),),
    )


def records_of(index: DnsIndex, name: str) -> set[tuple[str, str]]:
    reply = answer(DNSRecord.question(name, "ANY"), index)
    assert reply is not None
    return rdatas(reply)


BAD_SERVICES = {
    # An Endpoints address with an IPv6 zone ID (issue 10 case 1): dnslib raised on "1%x".
    "zone-id": ServiceInfo("default", "bad", "ClusterIP", None,
                           ports=(ServicePort("http", "TCP", 80),),
                           endpoints=(Endpoint("fd00::1%x", True, {"http": 80}),)),
    "ipv6": ServiceInfo("default", "bad", "ClusterIP", None,
                        ports=(ServicePort("http", "TCP", 80),),
                        endpoints=(Endpoint("fd00::1", True, {"http": 80}),)),
    "not-an-address": ServiceInfo("default", "bad", "ClusterIP", None,
                                  endpoints=(Endpoint("10.0.0.300", True, {}),)),
    "bad-cluster-ip": ServiceInfo("default", "bad", "ClusterIP", "10.96.0.x"),
    "bad-external-name": ServiceInfo("default", "bad", "ExternalName", None,
                                     external_name="a" * 64 + ".example.com"),
    "bad-name": ServiceInfo("default", "Bad_Name", "ClusterIP", "10.96.0.21"),
}


@pytest.mark.parametrize("case", sorted(BAD_SERVICES))
def test_unservable_service_is_skipped_and_reported(case: str) -> None:
    bad = BAD_SERVICES[case]
    index = DnsIndex.build(bad_object_snapshot(bad))
    assert [p.object for p in index.problems] in (
        [f"Service/default/{bad.name}"], [f"Endpoints/default/{bad.name}"])
    assert index.problems[0].message
    # No record names the bad Service, and the others answer exactly as without it.
    assert not [n for n in index.records if n.startswith(f"{bad.name.lower()}.default.")]
    clean = DnsIndex.build(bad_object_snapshot(
        ServiceInfo("default", "other", "ClusterIP", "10.96.0.22")))
    for name in (f"good.default.svc.{Z}", f"peers.default.svc.{Z}",
                 f"_http._tcp.good.default.svc.{Z}", f"10-0-2-5.default.pod.{Z}",
                 "20.0.96.10.in-addr.arpa"):
        assert records_of(index, name) == records_of(clean, name) != set(), name


def test_only_the_bad_address_of_a_headless_service_is_skipped() -> None:
    mixed = ServiceInfo("default", "mixed", "ClusterIP", None,
                        ports=(ServicePort("http", "TCP", 80),),
                        endpoints=(Endpoint("10.0.4.9", True, {"http": 80}),
                                   Endpoint("fd00::1%x", True, {"http": 80})))
    index = DnsIndex.build(bad_object_snapshot(mixed))
    assert records_of(index, f"mixed.default.svc.{Z}") == {("A", "10.0.4.9")}
    assert [p.object for p in index.problems] == ["Endpoints/default/mixed"]
    assert "fd00::1%x" in index.problems[0].message


def test_a_pod_with_a_bad_address_gets_no_record_and_is_reported() -> None:
    snap = Snapshot(pods=(PodInfo("default", "odd", "not-an-ip", "odd", None),
                          PodInfo("default", "client", "10.0.2.5", "client", None)))
    index = DnsIndex.build(snap)
    assert [p.object for p in index.problems] == ["Pod/default/odd"]
    assert records_of(index, f"10-0-2-5.default.pod.{Z}") == {("A", "10.0.2.5")}


def test_a_clean_snapshot_has_no_problems() -> None:
    assert INDEX.problems == ()
