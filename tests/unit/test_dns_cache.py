"""The DNS reply cache (localsvc.dns.cache) and how the server uses it (DnsServer.handle, no
sockets): a cached reply is byte for byte what a server without a cache answers to the same
message, whatever the ID, the case of the name, the type, class, EDNS and transport; a new index
drops only the replies of the names that changed, and every negative reply."""

from __future__ import annotations

import random
import struct
from dataclasses import replace

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from localsvc.dns.cache import ReplyCache, cache_key
from localsvc.dns.index import DnsIndex, changed_names
from localsvc.dns.server import DnsServer
from localsvc.dns.upstream import Pending
from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, ServicePort, Snapshot

Z = "cluster.local"
WEB = ServiceInfo("default", "web", "ClusterIP", "10.96.0.10", (ServicePort("http", "TCP", 80),))
API = ServiceInfo("default", "api", "ClusterIP", "10.96.0.11", (ServicePort("http", "TCP", 80),))
MANY = ServiceInfo("default", "many", "ClusterIP", None, (ServicePort("http", "TCP", 80),),
                   tuple(Endpoint(f"10.0.3.{i}", True, {"http": 8080}) for i in range(1, 41)))
ALIAS = ServiceInfo("default", "alias", "ExternalName", None, external_name=f"web.default.svc.{Z}")
CLUSTER = Snapshot(version=1, services=(WEB, API, MANY, ALIAS), dns_ip="10.96.0.53",
                   pods=(PodInfo("default", "client", "10.0.2.5", "client", None),))


def server(snapshot: Snapshot = CLUSTER) -> DnsServer:
    dns = DnsServer("127.0.0.1", 0, upstream=[])
    dns.update(snapshot)
    return dns


def message(name: str, qtype: str = "A", qid: int = 1, edns: int | None = None,
            do: bool = False, qclass: str = "IN", rd: bool = True) -> bytes:
    request = DNSRecord.question(name, qtype, qclass)
    request.header.id = qid
    request.header.rd = int(rd)
    if edns is not None:
        request.add_ar(EDNS0(udp_len=edns, flags="do" if do else ""))
    return bytes(request.pack())


def ask(dns: DnsServer, data: bytes, tcp: bool = False) -> bytes:
    reply = dns.handle(data, tcp)
    assert isinstance(reply, bytes), f"{data!r} got {reply!r}"
    return reply


def addresses(reply: bytes) -> list[str]:
    return [str(rr.rdata) for rr in DNSRecord.parse(reply).rr if rr.rtype == QTYPE.A]


def mixed_case(name: str, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


# -- hits -------------------------------------------------------------------------------------


def test_a_repeated_question_is_a_hit_with_the_new_id() -> None:
    dns = server()
    first = ask(dns, message(f"web.default.svc.{Z}", qid=7))
    again = ask(dns, message(f"web.default.svc.{Z}", qid=0xBEEF))
    assert dns.stats.cache_hits == 1
    assert again[:2] == b"\xbe\xef" and again[2:] == first[2:]
    assert addresses(again) == ["10.96.0.10"]


def test_a_hit_echoes_the_case_of_the_question_0x20() -> None:
    dns = server()
    ask(dns, message(f"web.default.svc.{Z}"))
    asked = mixed_case(f"web.default.svc.{Z}", seed=3)
    reply = ask(dns, message(asked, qid=9))
    assert dns.stats.cache_hits == 1
    parsed = DNSRecord.parse(reply)
    assert str(parsed.q.qname) == asked + "."  # the client's own case, byte for byte
    assert reply == ask(server(), message(asked, qid=9))  # what an empty cache answers


def test_a_hit_keeps_the_rd_bit_of_the_query() -> None:
    dns = server()
    with_rd = ask(dns, message(f"web.default.svc.{Z}", rd=True))
    without_rd = ask(dns, message(f"web.default.svc.{Z}", rd=False))
    assert DNSRecord.parse(with_rd).header.rd == 1
    assert DNSRecord.parse(without_rd).header.rd == 0
    assert dns.stats.cache_hits == 0  # the flags are part of the key


@pytest.mark.parametrize("seed", [1, 2])
def test_every_cached_reply_is_what_an_empty_cache_answers(seed: int) -> None:
    """Names x types x classes x EDNS x transports x case: the second answer (a hit) equals a
    fresh server's first answer to the same message."""
    rng = random.Random(seed)
    names = [f"web.default.svc.{Z}", f"many.default.svc.{Z}", f"alias.default.svc.{Z}",
             f"nope.default.svc.{Z}", f"default.svc.{Z}", f"_http._tcp.web.default.svc.{Z}",
             "10.0.96.10.in-addr.arpa", f"10-0-2-5.default.pod.{Z}", Z]
    dns, fresh = server(), server()
    for name in names:
        for qtype in ("A", "AAAA", "SRV", "PTR", "ANY", "SOA", "TXT"):
            for qclass in ("IN", "CH"):
                for edns, do in ((None, False), (512, False), (4096, False), (4096, True)):
                    for tcp in (False, True):
                        first = message(name, qtype, rng.randrange(65536), edns, do, qclass)
                        ask(dns, first, tcp)
                        hits = dns.stats.cache_hits
                        asked = mixed_case(name, rng.randrange(1000))
                        data = message(asked, qtype, rng.randrange(65536), edns, do, qclass)
                        fresh._cache.clear()
                        assert ask(dns, data, tcp) == ask(fresh, data, tcp), (asked, qtype)
                        assert dns.stats.cache_hits == hits + 1


def test_the_key_holds_type_class_edns_and_transport() -> None:
    base = message(f"web.default.svc.{Z}")
    key = cache_key(base, tcp=False)
    assert key is not None
    others = [message(f"web.default.svc.{Z}", "AAAA"), message(f"web.default.svc.{Z}", qclass="CH"),
              message(f"web.default.svc.{Z}", edns=1232),
              message(f"web.default.svc.{Z}", edns=1232, do=True)]
    keys = {key[0]} | {found[0] for m in others if (found := cache_key(m, tcp=False))}
    keys.add(cache_key(base, tcp=True)[0])  # type: ignore[index]
    assert len(keys) == 6
    assert cache_key(message(f"WEB.default.svc.{Z}", qid=99), tcp=False) == key  # not ID, case


def test_udp_truncation_depends_on_the_edns_payload_and_transport() -> None:
    dns = server()
    name = f"many.default.svc.{Z}"
    for _ in range(2):  # the second round answers from the cache
        plain = DNSRecord.parse(ask(dns, message(name)))
        assert plain.header.tc == 1 and plain.rr == []
        big = DNSRecord.parse(ask(dns, message(name, edns=4096)))
        assert big.header.tc == 0 and len(big.rr) == 40
        assert DNSRecord.parse(ask(dns, message(name), tcp=True)).header.tc == 0
    assert dns.stats.cache_hits == 3


def test_messages_without_one_plain_question_are_not_cached() -> None:
    cache = ReplyCache()
    two = bytearray(message(f"web.default.svc.{Z}"))
    two[4:6] = b"\x00\x02"
    pointer = bytes.fromhex("abcd01000001000000000000") + b"\xc0\x0c\x00\x01\x00\x01"
    for data in (bytes(two), pointer, b"\x00\x01"):
        assert cache_key(data, tcp=False) is None
        assert not cache.put(data, False, data, ["x"], negative=False)
        assert cache.get(data, False) is None
    assert len(cache) == 0


def test_the_oldest_reply_goes_when_the_cache_is_full() -> None:
    cache = ReplyCache(max_entries=2)
    queries = [message(f"n{i}.default.svc.{Z}") for i in range(3)]
    for i, data in enumerate(queries):
        assert cache.put(data, False, data, [f"n{i}.default.svc.{Z}"], negative=False)
    assert len(cache) == 2
    assert cache.get(queries[0], False) is None
    assert cache.get(queries[2], False) is not None


# -- invalidation -----------------------------------------------------------------------------


def test_a_changed_service_drops_only_its_own_replies() -> None:
    dns = server()
    web, api = message(f"web.default.svc.{Z}"), message(f"api.default.svc.{Z}")
    ask(dns, web), ask(dns, api)
    moved = replace(API, cluster_ip="10.96.0.99")
    dns.update(replace(CLUSTER, version=2, services=(WEB, moved, MANY, ALIAS)))
    hits = dns.stats.cache_hits
    assert addresses(ask(dns, api)) == ["10.96.0.99"]
    assert dns.stats.cache_hits == hits  # rebuilt
    assert addresses(ask(dns, web)) == ["10.96.0.10"]
    assert dns.stats.cache_hits == hits + 1  # kept across the update


def test_a_cname_reply_goes_when_its_target_changes() -> None:
    dns = server()
    alias = message(f"alias.default.svc.{Z}")
    assert addresses(ask(dns, alias)) == ["10.96.0.10"]
    moved = replace(WEB, cluster_ip="10.96.0.77")
    dns.update(replace(CLUSTER, version=2, services=(moved, API, MANY, ALIAS)))
    assert addresses(ask(dns, alias)) == ["10.96.0.77"]


def test_nodata_at_the_end_of_a_cname_chain_goes_with_a_new_index() -> None:
    dns = server()
    alias = message(f"alias.default.svc.{Z}", "AAAA")
    before = DNSRecord.parse(ask(dns, alias))
    assert [QTYPE[rr.rtype] for rr in before.rr] == ["CNAME"]  # NODATA for the target...
    assert str(before.auth[0].rdata).split()[2] == "1"  # ...with the SOA of version 1
    dns.update(replace(CLUSTER, version=2))
    assert str(DNSRecord.parse(ask(dns, alias)).auth[0].rdata).split()[2] == "2"


def test_srv_additional_records_follow_their_target() -> None:
    dns = server()
    srv = message(f"_http._tcp.web.default.svc.{Z}", "SRV")
    assert [str(rr.rdata) for rr in DNSRecord.parse(ask(dns, srv)).ar] == ["10.96.0.10"]
    moved = replace(WEB, cluster_ip="10.96.0.78")
    dns.update(replace(CLUSTER, version=2, services=(moved, API, MANY, ALIAS)))
    assert [str(rr.rdata) for rr in DNSRecord.parse(ask(dns, srv)).ar] == ["10.96.0.78"]


def test_negative_replies_go_with_every_new_index() -> None:
    dns = server()
    missing = message(f"new.default.svc.{Z}")
    namespace = message(f"other.svc.{Z}")
    assert DNSRecord.parse(ask(dns, missing)).header.rcode == RCODE.NXDOMAIN
    assert DNSRecord.parse(ask(dns, namespace)).header.rcode == RCODE.NXDOMAIN
    added = ServiceInfo("other", "new", "ClusterIP", "10.96.0.12")
    dns.update(replace(CLUSTER, version=2, services=(*CLUSTER.services, added)))
    # an empty non-terminal now: NOERROR without records, not NXDOMAIN
    now = DNSRecord.parse(ask(dns, namespace))
    assert now.header.rcode == RCODE.NOERROR and now.rr == []
    assert str(now.auth[0].rdata).split()[2] == "2"  # the SOA serial of the new index
    dns.update(replace(CLUSTER, version=3))
    # a cached NXDOMAIN carries the old serial: gone although `new.default` never existed
    assert str(DNSRecord.parse(ask(dns, missing)).auth[0].rdata).split()[2] == "3"


def test_a_removed_service_is_nxdomain_at_once() -> None:
    dns = server()
    api = message(f"api.default.svc.{Z}")
    ask(dns, api)
    dns.update(replace(CLUSTER, version=2, services=(WEB, MANY, ALIAS)))
    assert DNSRecord.parse(ask(dns, api)).header.rcode == RCODE.NXDOMAIN


def test_another_cluster_domain_empties_the_cache() -> None:
    dns = server()
    pod = message(f"10-0-9-9.default.pod.{Z}")  # answered for any address, no record of its own
    assert addresses(ask(dns, pod)) == ["10.0.9.9"]
    dns.update(replace(CLUSTER, version=2, cluster_domain="example.internal"))
    assert isinstance(dns.handle(pod, False), Pending)  # not ours any more: forwarded


def test_changed_names_of_an_update() -> None:
    old = DnsIndex.build(CLUSTER)
    grown = replace(MANY, endpoints=(*MANY.endpoints, Endpoint("10.0.3.99", True, {"http": 8080})))
    new = DnsIndex.build(replace(CLUSTER, version=2, services=(WEB, API, grown, ALIAS)),
                         previous=old)
    base = f"many.default.svc.{Z}"
    assert changed_names(old, new) == {
        Z,  # the SOA serial
        base,
        f"10-0-3-99.{base}",
        f"_http._tcp.{base}",
    }  # (no PTR: endpoints of a headless Service without a hostname or pod have none)
    assert changed_names(new, new) == set()


def test_cache_invalidate_by_name() -> None:
    cache = ReplyCache()
    a, b, n = (message(f"{x}.default.svc.{Z}") for x in "abn")
    cache.put(a, False, a, [f"a.default.svc.{Z}", f"b.default.svc.{Z}"], negative=False)
    cache.put(b, False, b, [f"b.default.svc.{Z}"], negative=False)
    cache.put(n, False, n, [f"n.default.svc.{Z}"], negative=True)
    assert cache.invalidate([f"a.default.svc.{Z}"]) == 2  # a, and the negative n
    assert cache.get(a, False) is None and cache.get(n, False) is None
    assert cache.get(b, False) == b
    assert cache.invalidate([f"b.default.svc.{Z}"]) == 1 and len(cache) == 0


def test_exact_and_case_insensitive_hits_patch_the_id() -> None:
    cache = ReplyCache()
    data = message(f"web.default.svc.{Z}", qid=1)
    reply = bytearray(data)
    reply[2] |= 0x80
    assert cache.put(data, False, bytes(reply), [f"web.default.svc.{Z}"], negative=False)
    same = struct.pack("!H", 4242) + data[2:]
    assert cache.get(same, False) == same[:2] + bytes(reply[2:])
    upper = message(f"WEB.default.svc.{Z}", qid=5)
    assert cache.get(upper, False) == upper[:2] + bytes(reply[2:12]) + upper[12:]
    assert cache.get(data, True) is None  # another transport
