"""Port-forward paths to one pod: what `kubectl port-forward` costs.

    python benchmarks/portforward.py [--megabytes 200] [--exchanges 2000]

One environment, one pod running a TCP echo server (the demo image's `tcp-echo`), reached three
ways in the same run:
  - `kubectl port-forward pod/echo` (v1.32: SPDY/3.1 inside a WebSocket to the node's API, the
    node connects to the pod: localsvc/node/kubeapi/portforward.py);
  - `localsvc port-forward pod/echo` (the project's own WebSocket tunnel, node/tunnel.py);
  - the published port: a LoadBalancer Service on the host (Docker's port publishing), the
    direct path the other two are compared with.
For each: throughput (MEGABYTES sent through the echo while its echo is read back: MB/s each
way) and round trip (median of EXCHANGES 64-byte request/echo exchanges on one connection).
Creates and removes its own environment.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEMO, bench_environment, write_kubeconfig  # noqa: E402


ECHO_PORT = 7000
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

MANIFEST = f"""apiVersion: v1
kind: Pod
metadata: {{name: echo, labels: {{app: echo}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: echo
    image: {DEMO}
    imagePullPolicy: Never
    args: ["tcp-echo", "--port", "{ECHO_PORT}"]
    readinessProbe: {{tcpSocket: {{port: {ECHO_PORT}}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: echo}}
spec:
  type: LoadBalancer
  selector: {{app: echo}}
  ports: [{{port: {ECHO_PORT}, targetPort: {ECHO_PORT}}}]
"""


def throughput(address: tuple[str, int], total: int) -> float:
    """MB/s of `total` bytes through the echo (sent on a thread while the echo is read)."""
    block = os.urandom(256 * 1024)
    with socket.create_connection(address, timeout=60) as sock:
        sock.settimeout(60)

        def send() -> None:
            sent = 0
            while sent < total:
                sock.sendall(block[:min(len(block), total - sent)])
                sent += min(len(block), total - sent)
            sock.shutdown(socket.SHUT_WR)

        started = time.perf_counter()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received = 0
        while chunk := sock.recv(1 << 20):
            received += len(chunk)
        elapsed = time.perf_counter() - started
        sender.join(timeout=60)
    if received != total:
        raise RuntimeError(f"{address}: echoed {received} of {total} bytes")
    return total / elapsed / 1e6


def round_trip(address: tuple[str, int], exchanges: int) -> float:
    """Median seconds of a 64-byte send and its echo, on one connection."""
    message = b"x" * 64
    times = []
    with socket.create_connection(address, timeout=30) as sock:
        sock.settimeout(30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(exchanges):
            started = time.perf_counter()
            sock.sendall(message)
            got = b""
            while len(got) < len(message):
                got += sock.recv(len(message) - len(got))
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def started_forward(command: list[str], env: dict[str, str],
                    pattern: str) -> tuple[subprocess.Popen[str], int]:
    """A port-forward process and the local port its first matching stdout line names."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    found: list[int] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if not found and (match := re.search(pattern, line)):
                found.append(int(match.group(1)))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 60
    while not found:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{command[0]} port-forward did not start: "
                               f"{process.stderr.read() if process.stderr else ''}")
        time.sleep(0.05)
    return process, found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(name: str, address: tuple[str, int], megabytes: int, exchanges: int,
            rows: dict[str, tuple[float, float]]) -> None:
    throughput(address, 4 * 1024 * 1024)  # warm: connections, JIT-free but caches and TCP
    rate = throughput(address, megabytes * 1024 * 1024)
    rtt = round_trip(address, exchanges)
    rows[name] = (rate, rtt)
    print(f"  {name:<28} {rate:8.1f} MB/s   {rtt * 1e3:7.3f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--exchanges", type=int, default=2000)
    args = parser.parse_args()

    env = bench_environment("bench-pf")
    processes: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            env.ensure()
            manifest = Path(tmp) / "echo.yaml"
            manifest.write_text(MANIFEST)
            env.apply([manifest], wait=120)
            published = urlsplit(env.service_url("echo"))
            kubeconfig = write_kubeconfig(env, Path(tmp) / "kubeconfig")
            kube_env = {**os.environ, "KUBECONFIG": str(kubeconfig),
                        "KUBECACHEDIR": str(Path(tmp) / "cache")}
            kubectl, kubectl_port = started_forward(
                [KUBECTL, "port-forward", "pod/echo", f":{ECHO_PORT}"], kube_env,
                r"Forwarding from 127\.0\.0\.1:(\d+) ->")
            processes.append(kubectl)
            local_port = free_port()
            ours, ours_port = started_forward(
                [sys.executable, "-m", "localsvc", "port-forward", "pod/echo",
                 f"{local_port}:{ECHO_PORT}"],
                {**os.environ, "LOCALSVC_ENV": env.name, "LOCALSVC_NODE_IMAGE": env.node_image or ""},
                r"Forwarding from 127\.0\.0\.1:(\d+) ->")
            processes.append(ours)

            print(f"{args.megabytes} MB through a TCP echo (MB/s each way), round trip of "
                  f"64 bytes (median of {args.exchanges}):")
            rows: dict[str, tuple[float, float]] = {}
            direct = (published.hostname or "127.0.0.1", int(published.port or 0))
            measure("published LoadBalancer port", direct, args.megabytes, args.exchanges, rows)
            measure("localsvc port-forward", ("127.0.0.1", ours_port), args.megabytes,
                    args.exchanges, rows)
            measure("kubectl port-forward", ("127.0.0.1", kubectl_port), args.megabytes,
                    args.exchanges, rows)
            report_ratios(rows)
        finally:
            for process in processes:
                stop(process)
            env.down()


def report_ratios(rows: dict[str, tuple[float, float]]) -> None:
    base_rate, base_rtt = rows["published LoadBalancer port"]
    ratio: Callable[[float, float], str] = lambda a, b: f"{a / b:.2f}x"  # noqa: E731
    print("against the published port (throughput ratio, round-trip ratio):")
    for name in ("localsvc port-forward", "kubectl port-forward"):
        rate, rtt = rows[name]
        print(f"  {name:<28} {ratio(rate, base_rate):>8}   {ratio(rtt, base_rtt):>8}")
    k_rate, k_rtt = rows["kubectl port-forward"]
    o_rate, o_rtt = rows["localsvc port-forward"]
    print(f"kubectl against localsvc port-forward: throughput {ratio(k_rate, o_rate)}, "
          f"round trip {ratio(k_rtt, o_rtt)}")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
