"""What counting connections per Service port costs the nftables dataplane, at N Services.

    python benchmarks/conn_counts.py [--services 1000] [--ports 6] [--rounds 10]

Runs in a throwaway container of the node image (NET_ADMIN, no network), on a table shaped like
benchmarks/nft_sync.py's (N Services of 6 ports with one endpoint). Prints the median of:
- one read of every count, as /v1/connections does it each second: `nft -j list map` of the
  `services` map plus parsing it (net/connections.py), against `nft -j list table` (what
  counters in the service chains would have to read) and an `nft` that lists nothing;
- the full render's `nft -f` with the map's `counter` statement and without it (same run), and
  a partial sync (one endpoint off or on again) on either table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

TABLE = "localsvc-bench"
PORTS = (("sink", 5001), ("echo", 5002), ("close", 5003), ("iperf", 5201), ("sockperf", 11111),
         ("conn", 5004))


def _timed(argv: list[str], stdin: str | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()[:2000]}")
    return time.perf_counter() - started, result.stdout


def measure(services: int, port_count: int, rounds: int) -> dict[str, object]:
    """Inside a container with nft and NET_ADMIN: the figures, as one dict."""
    from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
    from localsvc.net.connections import parse_map_counters
    from localsvc.net.nftables import ruleset_model
    from localsvc.net.nftdiff import partial_transaction
    from localsvc.net.nftmodel import ruleset_text

    ports = tuple(ServicePort(name, "TCP", port) for name, port in PORTS[:port_count])
    server = Endpoint("198.19.0.10", True, {name: port for name, port in PORTS[:port_count]})
    snapshot = Snapshot(node_ip="198.19.0.2", services=tuple(
        ServiceInfo("default", f"filler-{i}", "ClusterIP", f"198.18.{i // 250}.{i % 250 + 1}",
                    ports, (replace(server),)) for i in range(services)))
    model = ruleset_model(snapshot)
    counted = ruleset_text(model, TABLE)
    uncounted = counted.replace("\t\tcounter\n", "", 1)
    assert uncounted != counted
    # One endpoint off and on again: the first Service without its endpoint, and back.
    first = snapshot.services[0]
    flipped = ruleset_model(replace(snapshot, services=(
        replace(first, endpoints=(replace(server, ready=False),)), *snapshot.services[1:])))
    off, on = partial_transaction(model, flipped, TABLE), partial_transaction(flipped, model, TABLE)
    assert off is not None and on is not None
    load_with, load_without, read_map, read_table, noop = [], [], [], [], []
    partial_with: list[float] = []
    partial_without: list[float] = []
    try:
        for _ in range(3):
            load_without.append(_timed(["nft", "-f", "-"], uncounted)[0])
            for tx in (off, on):
                partial_without.append(_timed(["nft", "-f", "-"], tx.text)[0])
            load_with.append(_timed(["nft", "-f", "-"], counted)[0])
            for tx in (off, on):
                partial_with.append(_timed(["nft", "-f", "-"], tx.text)[0])
        labels = 0
        for _ in range(rounds):
            started = time.perf_counter()
            _, out = _timed(["nft", "-j", "list", "map", "ip", TABLE, "services"])
            labels = len(parse_map_counters(out))
            read_map.append(time.perf_counter() - started)
            read_table.append(_timed(["nft", "-j", "list", "table", "ip", TABLE])[0])
            noop.append(_timed(["nft", "-j", "list", "tables"])[0])
    finally:
        subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, timeout=60,
                       check=False)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 2)

    return {"services": services, "service_ports": labels, "read_map_ms": ms(read_map),
            "read_table_ms": ms(read_table), "noop_ms": ms(noop),
            "load_with_counter_ms": ms(load_with), "load_without_counter_ms": ms(load_without),
            "partial_with_counter_ms": ms(partial_with),
            "partial_without_counter_ms": ms(partial_without)}


def report(f: dict[str, object]) -> str:
    return "\n".join([
        f"connection counts with {f['services']} Services ({f['service_ports']} service ports), "
        "median:",
        f"  read every count (nft -j list map + parse): {f['read_map_ms']:8.1f} ms",
        f"  nft -j list table (counters in chains):     {f['read_table_ms']:8.1f} ms",
        f"  nft -j list tables (process start):         {f['noop_ms']:8.1f} ms",
        f"  full render nft -f with the map counter:    {f['load_with_counter_ms']:8.1f} ms"
        f"  (without: {f['load_without_counter_ms']:.1f} ms)",
        f"  partial sync, one endpoint, map counter:    {f['partial_with_counter_ms']:8.1f} ms"
        f"  (without: {f['partial_without_counter_ms']:.1f} ms)",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=len(PORTS), help="ports per Service (1-6)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--inside", action="store_true",
                        help="measure here (needs nft and NET_ADMIN) and print JSON")
    args = parser.parse_args()
    if args.inside:
        print(json.dumps(measure(args.services, args.ports, args.rounds)))
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from localsvc.runtime.engine import connect
    from localsvc.runtime.images import ensure_node_image

    image = ensure_node_image(connect(), lambda m: print(m, file=sys.stderr))
    result = subprocess.run(
        ["docker", "run", "--rm", "-i", "--cap-add", "NET_ADMIN", "--network", "none",
         "--entrypoint", "python3", image, "-", "--inside", "--services", str(args.services),
         "--ports", str(args.ports), "--rounds", str(args.rounds)],
        input=Path(__file__).read_text(), capture_output=True, text=True, timeout=600,
        check=False)
    if result.returncode != 0:
        raise RuntimeError(f"conn_counts --inside failed: {result.stderr.strip()[-3000:]}")
    print(report(json.loads(result.stdout.strip().splitlines()[-1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
