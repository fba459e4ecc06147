"""Host -> NodePort -> pod against host -> directly published container port (`docker run -p`),
in one run: bulk throughput (iperf3), round trip (sockperf), and the time from `localsvc apply` of
a new NodePort Service to the first successful connection on the host.

    python benchmarks/hostaccess.py [--rounds 5] [--seconds 2]

The "host" side is a container with host networking (the same network stack as the host, so no
tool needs installing on the host). Everything it creates is removed at the end; traffic goes only
to 127.0.0.1 and containers it creates.
"""

from __future__ import annotations

import argparse
import json
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
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

BENCH = "localsvc-bench/tools:1"
SERVER_CMD = "iperf3 -s -p 5201 -D; sockperf sr --tcp -p 11111 --daemonize >/dev/null; sleep infinity"




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
    return {"gbit_s": bulk["end"]["sum_received"]["bits_per_second"] / 1e9,
            "rtt_median_us": pct["50.000"], "rtt_p99_us": pct["99.000"]}


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
        while True:
            try:
                socket.create_connection(("127.0.0.1", np_sock), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.01)
        first_connection = time.perf_counter() - started
        time.sleep(1)
        rows: dict[str, list[dict[str, float]]] = {"direct (docker run -p)": [], "NodePort": []}
        for i in range(args.rounds):
            rows["direct (docker run -p)"].append(measure(client, d_iperf, d_sock, args.seconds))
            rows["NodePort"].append(measure(client, np_iperf, np_sock, args.seconds))
            print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
        med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in rows.items()}
        d = med["direct (docker run -p)"]
        print(f"\nhost 127.0.0.1 -> pod, median of {args.rounds} rounds "
              f"(bulk: iperf3 1 stream; round trip: sockperf ping-pong)")
        print(f"{'path':24} {'bulk Gb/s':>16} {'rtt median us':>18} {'rtt p99 us':>11}")
        for name, m in med.items():
            ratio = f"({m['gbit_s'] / d['gbit_s']:.2f})" if m is not d else ""
            added = f"(+{m['rtt_median_us'] - d['rtt_median_us']:.0f})" if m is not d else ""
            print(f"{name:24} {m['gbit_s']:>9.2f} {ratio:>6} {m['rtt_median_us']:>11.1f} {added:>6} "
                  f"{m['rtt_p99_us']:>11.1f}")
        print(f"\n`localsvc apply` of a new NodePort Service -> first host connection: "
              f"{first_connection:.2f} s")
    finally:
        for c in docker.containers.list(all=True, filters={"label": f"io.localsvc.bench={tag}"}):
            c.remove(force=True)
        env.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
