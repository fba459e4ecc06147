"""Service dataplane benchmark: client pod -> server pod, directly and through a ClusterIP, with
the kernel (nftables) and the userspace (asyncio) proxy, in one run; DNS queries/s; time for an
endpoint change to take effect with 200 Services.

    python benchmarks/dataplane.py [--rounds 6] [--seconds 2]
    python benchmarks/dataplane.py --only dns [--rounds 3] [--seconds 3]

`--only dns` starts only the nftables environment and measures DNS: the cluster DNS against the
same client aimed at a trivial UDP responder in the server pod (the direct path), with the
target and the CPU each side spent per query.

Prints a table of medians over the rounds and each path's ratio to the direct path. Builds its
tool image (benchmarks/image: iperf3, sockperf, netbench.py) on the local Python base; creates
two environments and removes them at the end. Traffic stays between containers it creates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from localsvc.host.api import Environment
from localsvc.runtime.environment import node_name
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

ROOT = Path(__file__).resolve().parents[1]
BENCH = "localsvc-bench/tools:1"
SERVICES = 200
DNS_TARGET = 20_000  # queries/s (issue 15)
DNS_NAME = "bench.default.svc.cluster.local"
DNS_OUTSTANDING = "16"


def manifests(tmp: Path, extra_services: int) -> Path:
    ports = ("[{name: sink, port: 5001}, {name: echo, port: 5002}, {name: close, port: 5003}, "
             "{name: iperf, port: 5201}, {name: sockperf, port: 11111}, {name: conn, port: 5004}]")
    docs = [f"""
apiVersion: v1
kind: Pod
metadata: {{name: server, labels: {{app: server}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: server
    image: {BENCH}
    command: ["sh", "-c", "iperf3 -s -p 5201 -D; sockperf sr --tcp -p 11111 --daemonize >/dev/null; connrate server 5004 & exec python3 /bench/netbench.py server"]
    readinessProbe: {{tcpSocket: {{port: 5002}}, periodSeconds: 1}}
""", f"""
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: client
    image: {BENCH}
    command: ["sleep", "infinity"]
""", f"""
apiVersion: v1
kind: Service
metadata: {{name: bench}}
spec:
  selector: {{app: server}}
  ports: {ports}
""", f"""
apiVersion: v1
kind: Pod
metadata: {{name: flip, labels: {{app: flip}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: flip
    image: {BENCH}
    command: ["sh", "-c", "touch /tmp/ready; exec python3 /bench/netbench.py server"]
    readinessProbe: {{exec: {{command: ["test", "-f", "/tmp/ready"]}}, periodSeconds: 1,
                     failureThreshold: 1}}
""", """
apiVersion: v1
kind: Service
metadata: {name: flip}
spec:
  selector: {app: flip}
  ports: [{name: close, port: 5003}]
"""]
    for i in range(extra_services):
        docs.append(f"""
apiVersion: v1
kind: Service
metadata: {{name: filler-{i}}}
spec:
  selector: {{app: server}}
  ports: {ports}
""")
    path = tmp / "bench.yaml"
    path.write_text("\n---\n".join(docs))
    return path


def exec_in(env: Environment, pod: str, *argv: str) -> str:
    container = env.docker.containers.get(env.container_id(pod))
    result = container.exec_run(list(argv))
    if result.exit_code != 0:
        raise RuntimeError(" ".join(argv) + ": " + result.output.decode(errors="replace"))
    return str(result.output.decode(errors="replace"))


def run_in(env: Environment, pod: str, *args: str) -> dict[str, Any]:
    out = exec_in(env, pod, "python3", "/bench/netbench.py", *args)
    return dict(json.loads(out.strip().splitlines()[-1]))


def iperf_gbit(env: Environment, host: str, seconds: float) -> float:
    out = json.loads(exec_in(env, "client", "iperf3", "-c", host, "-p", "5201", "-t", str(seconds), "-J"))
    return float(out["end"]["sum_received"]["bits_per_second"]) / 1e9


def sockperf_rtt(env: Environment, host: str, seconds: float) -> tuple[float, float]:
    """Full round-trip median and p99 in microseconds (sockperf ping-pong, TCP, 1 connection)."""
    out = exec_in(env, "client", "sockperf", "ping-pong", "--tcp", "-i", host, "-p", "11111",
                  "-t", str(int(max(1, seconds))), "--full-rtt")
    percentiles = {}
    for line in out.splitlines():
        if "percentile" in line and "=" in line:
            key = line.split("percentile")[1].split("=")[0].strip()
            percentiles[key] = float(line.split("=")[1].strip())
    return percentiles["50.000"], percentiles["99.000"]


def measure(env: Environment, host: str, seconds: float) -> dict[str, float]:
    out: dict[str, float] = {}
    out["bulk_gbit_s"] = iperf_gbit(env, host, seconds)
    out["rtt_median_us"], out["rtt_p99_us"] = sockperf_rtt(env, host, seconds)
    for key, threads in (("conn_s_seq", "1"), ("conn_s_32", "32")):
        result = json.loads(exec_in(env, "client", "connrate", "client", host, "5004",
                                    str(seconds), threads))
        out[key] = result["conn_s"]
    return out


def endpoint_change(env: Environment) -> dict[str, float]:
    """Seconds from the readiness file's removal to refusals on the Service's ClusterIP (includes
    the 1 s probe period), and the node's own apply time for that sync."""
    ip = env.get("svc", "flip")[0]["spec"]["clusterIP"]
    flip = env.docker.containers.get(env.container_id("flip"))
    probe = ("import socket,time,sys\nt=time.perf_counter()\nwhile time.perf_counter()-t<10:\n"
             " try:\n  socket.create_connection((sys.argv[1],5003),timeout=1).close()\n"
             "  time.sleep(0.01)\n except ConnectionRefusedError:\n  break\n"
             "print(time.perf_counter()-t)")
    client = env.docker.containers.get(env.container_id("client"))
    flip.exec_run(["rm", "/tmp/ready"])
    started = time.perf_counter()
    result = client.exec_run(["python3", "-c", probe, ip])
    e2e = time.perf_counter() - started
    status = env.node().get("/v1/status")
    flip.exec_run(["touch", "/tmp/ready"])
    env.wait_ready(30)
    return {"e2e_s": round(min(e2e, float(result.output.decode().strip() or 99)), 3),
            "node_apply_s": round(status["lastApplySeconds"], 4)}


def node_cpu_seconds(env: Environment) -> tuple[float, float]:
    """CPU seconds the node process (PID 1 of the node container) has used so far: user, system
    (the kernel's share: socket calls and the network stack up to the client's veth)."""
    node = env.docker.containers.get(node_name(env.name))
    fields = node.exec_run(["cat", "/proc/1/stat"]).output.decode().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def dns_figures(env: Environment, rounds: int, seconds: float) -> None:
    """Queries/s for a cluster name from the client pod, next to the same client against the
    trivial responder on the server pod (netbench.py: blocking recvfrom/sendto, no parsing):
    medians of `rounds`, alternating the two; then the previous asyncio client once each."""
    dns_ip = env.get("svc", "kube-dns", "kube-system")[0]["spec"]["clusterIP"]
    server_ip = env.pod("server")["status"]["podIP"]
    direct_args = (server_ip, DNS_NAME, str(seconds), DNS_OUTSTANDING, "5053")
    ours, direct, user_us, sys_us = [], [], [], []
    before_stats = env.node().get("/v1/status")["dns"]
    for _ in range(rounds):
        user, system = node_cpu_seconds(env)
        result = run_in(env, "client", "dns", dns_ip, DNS_NAME, str(seconds), DNS_OUTSTANDING)
        user_after, system_after = node_cpu_seconds(env)
        user_us.append((user_after - user) / (result["qps"] * seconds) * 1e6)
        sys_us.append((system_after - system) / (result["qps"] * seconds) * 1e6)
        if result["rcode"] != 0 or result["answers"] < 1:
            raise RuntimeError(f"the DNS benchmark measured no answers: {result}")
        ours.append(result)
        direct.append(run_in(env, "client", "dns", *direct_args))
    stats = env.node().get("/v1/status")["dns"]
    old_ours = run_in(env, "client", "dnsasync", dns_ip, DNS_NAME, str(seconds), DNS_OUTSTANDING)
    old_direct = run_in(env, "client", "dnsasync", *direct_args)
    qps = statistics.median(r["qps"] for r in ours)
    floor = statistics.median(r["qps"] for r in direct)
    print(f"\nDNS: {DNS_NAME} from a pod, median of {rounds} x {seconds:g} s (netbench dns: one "
          f"UDP socket, {DNS_OUTSTANDING} queries outstanding)")
    print(f"  {'localsvc DNS (kube-dns ClusterIP)':44} {qps:>8,.0f} queries/s  client CPU "
          f"{statistics.median(r['client_cpu'] for r in ours):.2f}  node CPU per query "
          f"{statistics.median(user_us):.1f} us user + {statistics.median(sys_us):.1f} us system "
          f"(incl. its idle work)")
    print(f"  {'direct: trivial UDP responder (server pod)':44} {floor:>8,.0f} queries/s  client CPU "
          f"{statistics.median(r['client_cpu'] for r in direct):.2f}")
    verdict = "met" if qps >= DNS_TARGET else "NOT met"
    print(f"  ratio {qps / floor:.2f} of the direct path; target >= {DNS_TARGET:,} queries/s: "
          f"{verdict}")
    hits = stats["cache_hits"] - before_stats["cache_hits"]
    asked = stats["queries"] - before_stats["queries"]
    print(f"  reply cache: {hits:,} hits of {asked:,} queries; timeouts "
          f"{sum(r['timeouts'] for r in ours)} (ours) {sum(r['timeouts'] for r in direct)} (direct)")
    print(f"  previous client (asyncio, one socket per outstanding query), 1 x {seconds:g} s: "
          f"{old_ours['qps']:,} queries/s via localsvc DNS, {old_direct['qps']:,} against the "
          f"trivial responder")


def bench_images() -> str:
    """Build (when their sources changed) the node image and the tool image the pods run;
    the node image's name. Done before any timing, so no build counts in a figure."""
    client = connect()
    node_image = ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "benchmarks/image", BENCH, lambda m: print(m, file=sys.stderr))
    return node_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--only", choices=["dns"], help="measure only DNS (one environment)")
    args = parser.parse_args()
    node_image = bench_images()
    tmp = Path("/tmp") / f"localsvc-bench-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    envs = {mode: Environment(f"bench-{mode[:3]}-{uuid.uuid4().hex[:4]}", node_image=node_image,
                              proxy_mode=mode)
            for mode in (("nftables",) if args.only == "dns" else ("nftables", "userspace"))}
    try:
        for mode, env in envs.items():
            print(f"starting {mode} environment with {SERVICES + 2} Services ...", file=sys.stderr)
            env.up([manifests(tmp, SERVICES)], wait=180)
        nft = envs["nftables"]
        if args.only == "dns":
            dns_figures(nft, args.rounds, args.seconds)
            return 0
        server_ip = nft.pod("server")["status"]["podIP"]
        paths = {
            "direct": (nft, server_ip),
            "clusterip-nftables": (nft, nft.get("svc", "bench")[0]["spec"]["clusterIP"]),
            "clusterip-userspace": (envs["userspace"],
                                    envs["userspace"].get("svc", "bench")[0]["spec"]["clusterIP"]),
        }
        results: dict[str, list[dict[str, float]]] = {p: [] for p in paths}
        for round_ in range(args.rounds):
            for name, (env, host) in paths.items():
                results[name].append(measure(env, host, args.seconds))
            print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
        medians = {p: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for p, rs in results.items()}
        direct = medians["direct"]
        print(f"\nService dataplane, median of {args.rounds} rounds (client pod -> server pod, "
              f"{SERVICES + 2} Services defined; bulk: iperf3, 1 stream; round trip: sockperf "
              f"ping-pong; new connections: connrate, C on both ends)")
        head = f"{'path':22} {'bulk Gb/s':>16} {'rtt median us':>16} {'rtt p99 us':>11} {'conn/s seq':>16} {'conn/s x32':>16}"
        print(head)
        for p, m in medians.items():
            def ratio(key: str) -> str:
                return f"({m[key] / direct[key]:.2f})" if p != "direct" else ""
            added = f"(+{m['rtt_median_us'] - direct['rtt_median_us']:.0f})" if p != "direct" else ""
            print(f"{p:22} {m['bulk_gbit_s']:>9.2f} {ratio('bulk_gbit_s'):>6} "
                  f"{m['rtt_median_us']:>9.1f} {added:>6} {m['rtt_p99_us']:>11.1f} "
                  f"{m['conn_s_seq']:>9.0f} {ratio('conn_s_seq'):>6} {m['conn_s_32']:>9.0f} {ratio('conn_s_32'):>6}")
        dns_figures(nft, rounds=3, seconds=3.0)
        for mode, env in envs.items():
            changes = [endpoint_change(env) for _ in range(3)]
            print(f"endpoint change with {SERVICES + 2} Services ({mode}): end to end "
                  f"{statistics.median(c['e2e_s'] for c in changes):.2f} s (includes the 1 s probe "
                  f"period), node sync {statistics.median(c['node_apply_s'] for c in changes) * 1000:.0f} ms")
    finally:
        for env in envs.values():
            env.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
