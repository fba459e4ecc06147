"""Host -> NodePort -> pod against host -> directly published container port (`docker run -p`),
in one run: bulk throughput (iperf3), round trip (sockperf), and the time from `localsvc apply` of
a new NodePort Service to the first successful connection on the host.

Paths: direct; the NodePort as localsvc runs it (its svclb container DNATs in the kernel where
the node's proxy runs on nftables); and, for comparison, the userspace relay (the fallback where
the kernel path is unavailable) in a container like an svclb, to the same ClusterIP. Ratios are
to the direct path; the issue's targets (>= 0.9x throughput, <= +30 us round trip) are printed
next to them.

    python benchmarks/hostaccess.py [--rounds 5] [--seconds 2]

The "host" side is a container with host networking (the same network stack as the host, so no
tool needs installing on the host). Everything it creates is removed at the end; traffic goes only
to 127.0.0.1 and containers it creates.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, free_port  # noqa: E402
from localsvc.host.api import Environment
from localsvc.model.network import plan_for
from localsvc.net.forwarder import SPEC_VARIABLE, ForwardRule, rules_to_json
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

BENCH = "localsvc-bench/tools:1"
SERVER_CMD = "iperf3 -s -p 5201 -D; sockperf sr --tcp -p 11111 --daemonize >/dev/null; sleep infinity"
TARGET_RATIO = 0.9  # of the direct throughput, at least
TARGET_ADDED_US = 30.0  # round trip over the direct one, at most
DIRECT, NODEPORT, RELAY = "direct (docker run -p)", "NodePort", "NodePort, relay"


def measure(client: object, iperf_port: int, sockperf_port: int, seconds: float) -> dict[str, float]:
    def run(*argv: str) -> str:
        result = client.exec_run(list(argv))  # type: ignore[attr-defined]
        if result.exit_code != 0:
            raise RuntimeError(result.output.decode(errors="replace"))
        return str(result.output.decode(errors="replace"))

    bulk = json.loads(run("iperf3", "-c", "127.0.0.1", "-p", str(iperf_port), "-t", str(seconds), "-J"))
    out = run("sockperf", "ping-pong", "--tcp", "-i", "127.0.0.1", "-p", str(sockperf_port),
              "-t", str(int(max(1, seconds))), "--full-rtt")
    pct = {line.split("percentile")[1].split("=")[0].strip(): float(line.split("=")[1])
           for line in out.splitlines() if "percentile" in line and "=" in line}
    low = next(float(line.split("=")[1]) for line in out.splitlines() if "<MIN>" in line)
    return {"gbit_s": bulk["end"]["sum_received"]["bits_per_second"] / 1e9,
            "rtt_median_us": pct["50.000"], "rtt_p99_us": pct["99.000"], "rtt_min_us": low}


def start_relay(docker: object, env: Environment, node_image: str, label: dict[str, str],
                ports: tuple[int, int]) -> None:
    """The userspace relay (`localsvc svclb` without the kernel mode) publishing `ports` and
    forwarding them to the Service's ClusterIP, on the environment's network like an svclb."""
    info = env.info()
    cluster_ip = env.get("svc", "server")[0]["spec"]["clusterIP"]
    rules = [ForwardRule(5201, "TCP", cluster_ip, 5201), ForwardRule(11111, "TCP", cluster_ip, 11111)]
    docker.containers.run(  # type: ignore[attr-defined]
        node_image, ["svclb"], detach=True, labels=label, network=info.network,
        environment={SPEC_VARIABLE: rules_to_json(rules, host_alias=plan_for(info.subnet).gateway)},
        ports={"5201/tcp": ("127.0.0.1", ports[0]), "11111/tcp": ("127.0.0.1", ports[1])})


def svclb_path(docker: object, env: Environment) -> str:
    """How localsvc's svclb forwards, read from its log."""
    logs = docker.containers.get(f"localsvc-{env.name}-svclb-default-server").logs().decode()  # type: ignore[attr-defined]
    return "kernel (nftables)" if "kernel forwarding" in logs else "userspace relay"


def wait_connectable(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    docker = connect()
    node_image = ensure_node_image(docker, lambda m: print(m, file=sys.stderr))
    ensure_context_image(docker, ROOT / "benchmarks/image", BENCH, lambda m: print(m, file=sys.stderr))
    tag = uuid.uuid4().hex[:6]
    label = {"io.localsvc.bench": tag}
    env = Environment(f"bench-host-{tag}", node_image=node_image)
    tmp = Path("/tmp") / f"localsvc-hostbench-{tag}"
    tmp.mkdir()
    d_iperf, d_sock = free_port(21000), free_port(23000)
    np_iperf, np_sock = free_port(31000), free_port(31500)
    relay_ports = (free_port(24000), free_port(25000))
    try:
        docker.containers.run(BENCH, ["sh", "-c", SERVER_CMD], detach=True, labels=label,
                                       ports={"5201/tcp": ("127.0.0.1", d_iperf),
                                              "11111/tcp": ("127.0.0.1", d_sock)})
        client = docker.containers.run(BENCH, ["sleep", "infinity"], detach=True, labels=label,
                                       network_mode="host")
        (tmp / "server.yaml").write_text(f"""
apiVersion: v1
kind: Pod
metadata: {{name: server, labels: {{app: server}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {{name: server, image: {BENCH}, command: ["sh", "-c", "{SERVER_CMD}"]}}
""")
        env.up([tmp / "server.yaml"], wait=60)
        (tmp / "np.yaml").write_text(f"""
apiVersion: v1
kind: Service
metadata: {{name: server}}
spec:
  type: NodePort
  selector: {{app: server}}
  ports:
  - {{name: iperf, port: 5201, nodePort: {np_iperf}}}
  - {{name: sockperf, port: 11111, nodePort: {np_sock}}}
""")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "localsvc", "--env", env.name, "apply", "-f",
                        str(tmp / "np.yaml")], check=True, capture_output=True)
        wait_connectable(np_sock)
        first_connection = time.perf_counter() - started
        start_relay(docker, env, node_image, label, relay_ports)
        wait_connectable(relay_ports[1])
        time.sleep(1)
        ports = {DIRECT: (d_iperf, d_sock), NODEPORT: (np_iperf, np_sock), RELAY: relay_ports}
        rows: dict[str, list[dict[str, float]]] = {name: [] for name in ports}
        for i in range(args.rounds):
            for name, (iperf_port, sockperf_port) in ports.items():
                rows[name].append(measure(client, iperf_port, sockperf_port, args.seconds))
            print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
        med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in rows.items()}
        d = med[DIRECT]
        print(f"\nhost 127.0.0.1 -> pod, median of {args.rounds} rounds "
              f"(bulk: iperf3 1 stream; round trip: sockperf ping-pong); "
              f"localsvc's svclb forwards in: {svclb_path(docker, env)}")
        # The minimum round trip shows a path's own cost best on a busy machine.
        print(f"{'path':24} {'bulk Gb/s':>9} {'ratio':>6} {'rtt median us':>13} {'added':>6} "
              f"{'rtt min us':>10} {'added':>6} {'rtt p99 us':>11}")
        for name, m in med.items():
            ratio = f"{m['gbit_s'] / d['gbit_s']:.2f}" if m is not d else ""
            added = f"+{m['rtt_median_us'] - d['rtt_median_us']:.0f}" if m is not d else ""
            added_min = f"+{m['rtt_min_us'] - d['rtt_min_us']:.0f}" if m is not d else ""
            print(f"{name:24} {m['gbit_s']:>9.2f} {ratio:>6} {m['rtt_median_us']:>13.1f} "
                  f"{added:>6} {m['rtt_min_us']:>10.1f} {added_min:>6} {m['rtt_p99_us']:>11.1f}")
        n = med[NODEPORT]
        ratio, added = n["gbit_s"] / d["gbit_s"], n["rtt_median_us"] - d["rtt_median_us"]
        print(f"target (issue 15): NodePort >= {TARGET_RATIO}x the direct throughput "
              f"({'met' if ratio >= TARGET_RATIO else 'NOT met'}: {ratio:.2f}x), <= "
              f"+{TARGET_ADDED_US:.0f} us round trip "
              f"({'met' if added <= TARGET_ADDED_US else 'NOT met'}: +{added:.0f} us)")
        print(f"\n`localsvc apply` of a new NodePort Service -> first host connection: "
              f"{first_connection:.2f} s")
    finally:
        for c in docker.containers.list(all=True, filters={"label": f"io.localsvc.bench={tag}"}):
            c.remove(force=True)
        env.down()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
