"""Service dataplane benchmark: client pod -> server pod, directly and through a ClusterIP, with
the kernel (nftables) and the userspace (asyncio) proxy, in one run; DNS queries/s; time for an
endpoint change to take effect with 200 Services.

    python benchmarks/dataplane.py [--rounds 6] [--seconds 2]

Prints a table of medians over the rounds and each path's ratio to the direct path. Needs the
images scripts/setup builds; creates two environments and removes them at the end. Traffic stays
between containers this script creates.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from localsvc.api import Environment
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

ROOT = Path(__file__).resolve().parents[1]
DEMO = "localsvc-examples/demo:1"
SERVICES = 200


def manifests(tmp: Path, extra_services: int) -> Path:
    script = (ROOT / "benchmarks" / "netbench.py").read_text()
    indented = "\n".join("    " + line for line in script.splitlines())
    ports = "[{name: sink, port: 5001}, {name: echo, port: 5002}, {name: close, port: 5003}]"
    docs = [f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: netbench}}
data:
  netbench.py: |
{indented}
""", f"""
apiVersion: v1
kind: Pod
metadata: {{name: server, labels: {{app: server}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: server
    image: {DEMO}
    command: ["python3", "/bench/netbench.py", "server"]
    volumeMounts: [{{name: bench, mountPath: /bench}}]
    readinessProbe: {{tcpSocket: {{port: 5002}}, periodSeconds: 1}}
  volumes: [{{name: bench, configMap: {{name: netbench}}}}]
""", f"""
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: client
    image: {DEMO}
    command: ["sleep", "infinity"]
    volumeMounts: [{{name: bench, mountPath: /bench}}]
  volumes: [{{name: bench, configMap: {{name: netbench}}}}]
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
    image: {DEMO}
    command: ["sh", "-c", "touch /tmp/ready; exec python3 /bench/netbench.py server"]
    volumeMounts: [{{name: bench, mountPath: /bench}}]
    readinessProbe: {{exec: {{command: ["test", "-f", "/tmp/ready"]}}, periodSeconds: 1,
                     failureThreshold: 1}}
  volumes: [{{name: bench, configMap: {{name: netbench}}}}]
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


def run_in(env: Environment, pod: str, *args: str) -> dict[str, Any]:
    container = env.docker.containers.get(env.container_id(pod))
    result = container.exec_run(["python3", "/bench/netbench.py", *args])
    if result.exit_code != 0:
        raise RuntimeError(result.output.decode(errors="replace"))
    return dict(json.loads(result.output.decode().strip().splitlines()[-1]))


def measure(env: Environment, host: str, seconds: float) -> dict[str, float]:
    out: dict[str, float] = {}
    out["bulk_gbit_s"] = run_in(env, "client", "bulk", host, str(seconds))["gbit_s"]
    r = run_in(env, "client", "rtt", host, "10000")
    out["rtt_median_us"], out["rtt_p99_us"] = r["median_us"], r["p99_us"]
    out["conn_s_seq"] = run_in(env, "client", "conn", host, str(seconds), "1")["conn_s"]
    out["conn_s_32"] = run_in(env, "client", "conn", host, str(seconds), "32")["conn_s"]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    client = connect()
    node_image = ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "examples/images/demo", DEMO, lambda m: print(m, file=sys.stderr))
    tmp = Path("/tmp") / f"localsvc-bench-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    envs = {mode: Environment(f"bench-{mode[:3]}-{uuid.uuid4().hex[:4]}", node_image=node_image,
                              proxy_mode=mode) for mode in ("nftables", "userspace")}
    try:
        for mode, env in envs.items():
            print(f"starting {mode} environment with {SERVICES + 2} Services ...", file=sys.stderr)
            env.up([manifests(tmp, SERVICES)], wait=180)
        nft = envs["nftables"]
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
              f"{SERVICES + 2} Services defined)")
        head = f"{'path':22} {'bulk Gb/s':>16} {'rtt median us':>16} {'rtt p99 us':>11} {'conn/s seq':>16} {'conn/s x32':>16}"
        print(head)
        for p, m in medians.items():
            def ratio(key: str) -> str:
                return f"({m[key] / direct[key]:.2f})" if p != "direct" else ""
            added = f"(+{m['rtt_median_us'] - direct['rtt_median_us']:.0f})" if p != "direct" else ""
            print(f"{p:22} {m['bulk_gbit_s']:>9.2f} {ratio('bulk_gbit_s'):>6} "
                  f"{m['rtt_median_us']:>9.1f} {added:>6} {m['rtt_p99_us']:>11.1f} "
                  f"{m['conn_s_seq']:>9.0f} {ratio('conn_s_seq'):>6} {m['conn_s_32']:>9.0f} {ratio('conn_s_32'):>6}")
        dns_ip = nft.get("svc", "kube-dns", "kube-system")[0]["spec"]["clusterIP"]
        qps = [run_in(nft, "client", "dns", dns_ip, "bench.default.svc.cluster.local", "3", "16")["qps"]
               for _ in range(3)]
        print(f"\nDNS: {statistics.median(qps):.0f} queries/s (median of 3 x 3 s, 16 outstanding, "
              f"cluster name, from a pod)")
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
