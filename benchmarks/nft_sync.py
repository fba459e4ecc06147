"""The node's nftables sync alone: full render against partial sync, at N Services.

    python benchmarks/nft_sync.py [--services 1000] [--ports 6] [--changes 10]

Runs in a throwaway container of the node image (NET_ADMIN, no network): a table shaped like
benchmarks/dataplane.py's (N Services of 6 ports with one endpoint, plus one `flip` Service),
then one endpoint flipping off and on `--changes` times (`--ports`: fewer ports per Service). Prints, per sync kind, the median time of
the Python part (model, text) and of `nft -f` (process start, the kernel's cache dump, the
transaction), each also as CPU time (on a loaded machine the wall time is mostly waiting for a
core), and the cost of an `nft -f` that does nothing. benchmarks/endpoint_change.py runs
the same measurement inside the node of its environment (`--inside`, in the node's own network
namespace, on a scratch table of addresses no one uses).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

TABLE = "localsvc-bench"
PORTS = (("sink", 5001), ("echo", 5002), ("close", 5003), ("iperf", 5201), ("sockperf", 11111),
         ("conn", 5004))


CPU: list[float] = []  # the CPU seconds (user + system) of each `nft -f`, in call order


def _nft(text: str) -> float:
    """The wall seconds of `nft -f` of `text`; its CPU seconds go to CPU (on a loaded machine
    the wall time is mostly waiting for a core; the CPU time is what the sync itself costs)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(["nft", "-f", "-"], input=text, capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"nft -f failed: {result.stderr.strip()[:2000]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def measure(services: int, changes: int, port_count: int = len(PORTS)) -> dict[str, object]:
    """Inside a container with nft and NET_ADMIN: the figures, as one dict."""
    from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
    from localsvc.net.nftdiff import RulesetCompiler, partial_transaction
    from localsvc.net.nftmodel import ruleset_text

    ports = tuple(ServicePort(name, "TCP", port) for name, port in PORTS[:port_count])
    server = Endpoint("198.19.0.10", True, {name: port for name, port in PORTS[:port_count]})

    def service(name: str, i: int, ready: bool = True) -> ServiceInfo:
        # 198.18.0.0/15 (RFC 2544, benchmarking): addresses no environment uses.
        return ServiceInfo("default", name, "ClusterIP", f"198.18.{i // 250}.{i % 250 + 1}",
                           ports, (replace(server, ready=ready),))

    fillers = tuple(service(f"filler-{i}", i) for i in range(services))
    flip_on = Snapshot(services=(service("flip", services), *fillers), node_ip="198.19.0.2")
    flip_off = replace(flip_on, services=(service("flip", services, False), *fillers))
    compiler = RulesetCompiler()
    full_python, full_nft, partial_python, partial_nft = [], [], [], []
    full_cpu: list[float] = []
    partial_cpu: list[float] = []
    partial_python_cpu: list[float] = []
    try:
        for _ in range(3):  # the full render, as at startup and after an error
            started = time.perf_counter()
            model = RulesetCompiler().compile(flip_on).model
            text = ruleset_text(model, TABLE)
            full_python.append(time.perf_counter() - started)
            full_nft.append(_nft(text))
            full_cpu.append(CPU[-1])
        model = compiler.compile(flip_on).model  # what the table holds, as the node's compiler has it
        for i in range(changes * 2):
            snapshot = flip_off if i % 2 == 0 else flip_on
            started, cpu = time.perf_counter(), time.process_time()
            new = compiler.compile(snapshot).model
            tx = partial_transaction(model, new, TABLE)
            assert tx is not None and tx.text
            partial_python.append(time.perf_counter() - started)
            partial_python_cpu.append(time.process_time() - cpu)
            partial_nft.append(_nft(tx.text))
            partial_cpu.append(CPU[-1])
            model = new
        noop = [_nft(f"add table ip {TABLE}\n") for _ in range(5)]
        noop_cpu = CPU[-5:]
        chains = sum(len(p.chains) for p in model.ports.values()) + len(model.spreads)
    finally:
        subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, timeout=60,
                       check=False)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 2)

    return {"services": services + 1, "service_ports": len(model.ports), "chains": chains,
            "full_python_ms": ms(full_python), "full_nft_ms": ms(full_nft),
            "partial_python_ms": ms(partial_python), "partial_nft_ms": ms(partial_nft),
            "noop_nft_ms": ms(noop), "full_nft_cpu_ms": ms(full_cpu),
            "partial_nft_cpu_ms": ms(partial_cpu), "noop_nft_cpu_ms": ms(noop_cpu),
            "partial_python_cpu_ms": ms(partial_python_cpu),
            "partial_bytes": len(tx.text), "full_bytes": len(text)}


def report(figures: dict[str, object]) -> str:
    f = {k: float(v) for k, v in figures.items() if isinstance(v, (int, float))}
    full, partial = f["full_python_ms"] + f["full_nft_ms"], f["partial_python_ms"] + f["partial_nft_ms"]
    return "\n".join([
        f"nftables sync with {figures['services']} Services ({figures['service_ports']} service "
        f"ports, {figures['chains']} chains), median:",
        f"  full render (startup, recovery): {full:8.1f} ms  (Python {f['full_python_ms']:.1f} ms, "
        f"nft -f {f['full_nft_ms']:.1f} ms, CPU {f.get('full_nft_cpu_ms', 0):.1f} ms, "
        f"{f['full_bytes'] / 1e6:.1f} MB)",
        f"  partial sync, one endpoint:      {partial:8.1f} ms  (Python {f['partial_python_ms']:.2f} "
        f"ms, CPU {f.get('partial_python_cpu_ms', 0):.2f} ms, nft -f {f['partial_nft_ms']:.1f} ms, "
        f"CPU {f.get('partial_nft_cpu_ms', 0):.1f} ms, "
        f"{figures['partial_bytes']} bytes)"
        f"  ratio {partial / full:.3f}; target <= 20 ms",
        f"  nft -f doing nothing:            {f['noop_nft_ms']:8.1f} ms  (process start + cache, "
        f"CPU {f.get('noop_nft_cpu_ms', 0):.1f} ms)",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--ports", type=int, default=len(PORTS), help="ports per Service (1-6)")
    parser.add_argument("--inside", action="store_true",
                        help="measure here (needs nft and NET_ADMIN) and print JSON")
    args = parser.parse_args()
    if args.inside:
        print(json.dumps(measure(args.services, args.changes, args.ports)))
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from localsvc.runtime.engine import connect
    from localsvc.runtime.images import ensure_node_image

    image = ensure_node_image(connect(), lambda m: print(m, file=sys.stderr))
    argv = ["docker", "run", "--rm", "-i", "--cap-add", "NET_ADMIN", "--network", "none",
            "--entrypoint", "python3", image]
    print(report(run_inside(argv, args.services, args.changes, args.ports)))
    return 0


def run_inside(docker_argv: list[str], services: int, changes: int,
               ports: int = len(PORTS)) -> dict[str, object]:
    """Run this script with `--inside` through `docker_argv` (docker run/exec ... python3)."""
    result = subprocess.run(
        [*docker_argv, "-", "--inside", "--services", str(services), "--changes", str(changes),
         "--ports", str(ports)],
        input=Path(__file__).read_text(), capture_output=True, text=True, timeout=600,
        check=False)
    if result.returncode != 0:
        raise RuntimeError(f"nft_sync --inside failed: {result.stderr.strip()[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    raise SystemExit(main())
