"""DNS reply cache, in-process (no sockets, no Docker): what a query costs from the cache and
without it, and what one endpoint change costs the cache with per-name invalidation against
emptying the whole cache.

    python benchmarks/dnscache.py [--services 1000] [--hot 500]

A DnsServer answers for `services` ClusterIP Services (plus one headless Service whose endpoint
changes) and as many pods; `hot` Service names are asked (A) before each change, as pods keep
asking them. Per change: the index build, the invalidation, and answering the hot names again
(those whose replies went are misses: dnslib parses and packs).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from dataclasses import replace

from dnslib import DNSRecord

from localsvc.dns.server import DnsServer
from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, ServicePort, Snapshot

ZONE = "cluster.local"


def snapshot(services: int, version: int, endpoint: str) -> Snapshot:
    port = (ServicePort("http", "TCP", 80),)
    svcs = [ServiceInfo("default", f"svc-{i}", "ClusterIP", f"10.96.{i // 250}.{i % 250 + 1}",
                        port, (Endpoint(f"10.0.{i // 250}.{i % 250 + 1}", True, {"http": 80}),))
            for i in range(services)]
    svcs.append(ServiceInfo("default", "flip", "ClusterIP", None, port,
                            (Endpoint(endpoint, True, {"http": 80}),)))
    pods = tuple(PodInfo("default", f"pod-{i}", f"10.0.{i // 250}.{i % 250 + 1}", f"pod-{i}", None)
                 for i in range(services))
    return Snapshot(version=version, services=tuple(svcs), pods=pods, dns_ip="10.96.255.10")


def query(name: str, qid: int) -> bytes:
    request = DNSRecord.question(name)
    request.header.id = qid
    return bytes(request.pack())


def per_call_us(fn: object, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - started) / count * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--hot", type=int, default=500)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    hot = [query(f"svc-{i}.default.svc.{ZONE}", i) for i in range(min(args.hot, args.services))]
    dns = DnsServer("127.0.0.1", 0, upstream=[])
    dns.update(snapshot(args.services, 1, "10.1.0.1"))
    first = hot[0]
    dns.handle(first, False)
    other_case = first[:12] + first[12:20].upper() + first[20:]
    hit = per_call_us(lambda: dns.handle(first, False), 100_000)
    hit_case = per_call_us(lambda: dns.handle(other_case, False), 100_000)
    def miss_once() -> None:
        dns._cache.clear()
        dns.handle(first, False)

    miss = per_call_us(miss_once, 2_000)
    print(f"{args.services} Services, {args.services} pods; per query in the server: "
          f"hit {hit:.2f} us, hit in another case {hit_case:.2f} us, miss {miss:.0f} us")

    # The two modes alternate change by change, so that a busy machine weighs on both alike.
    servers = {mode: DnsServer("127.0.0.1", 0, upstream=[]) for mode in ("per-name", "whole-cache")}
    results: dict[str, dict[str, list[float]]] = {
        mode: {"update_ms": [], "refill_ms": [], "misses": []} for mode in servers}
    for dns in servers.values():
        dns.update(snapshot(args.services, 1, "10.1.0.1"))
    for change in range(args.changes):
        changed = snapshot(args.services, change + 2, f"10.1.0.{change + 2}")
        for mode, dns in servers.items():
            figures = results[mode]
            for data in hot:
                dns.handle(data, False)
            gc.collect()  # a collection due now would land in one mode's figure only
            started = time.perf_counter()
            dns.update(changed)
            if mode == "whole-cache":
                dns._cache.clear()
            figures["update_ms"].append((time.perf_counter() - started) * 1e3)
            hits = dns.stats.cache_hits
            started = time.perf_counter()
            for data in hot:
                dns.handle(data, False)
            figures["refill_ms"].append((time.perf_counter() - started) * 1e3)
            figures["misses"].append(len(hot) - (dns.stats.cache_hits - hits))
    print(f"one endpoint change, {len(hot)} hot names asked again (median of {args.changes}):")
    for mode, figures in results.items():
        update = statistics.median(figures["update_ms"])
        refill = statistics.median(figures["refill_ms"])
        print(f"  {mode:12} index update + invalidation {update:6.1f} ms, answering the hot names "
              f"again {refill:6.1f} ms ({statistics.median(figures['misses']):.0f} misses), "
              f"total {update + refill:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
