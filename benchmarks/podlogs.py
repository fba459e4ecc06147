"""Log lines per second through `kubectl logs -f` (the environment's pods/log), against
`docker logs -f` of the same container in the same run.

    python benchmarks/podlogs.py [--lines 200000] [--runs 3]

Each run starts a pod whose container waits for a go signal and then prints LINES lines as fast
as `seq` writes them, then exits. Both followers are attached before the signal; each counts
the lines it receives, from the signal to the last line. A third follower, curl reading
pods/log?follow=true, shows the node's part without kubectl's own line handling. Prints the
lines per second of each, their median over the runs, and the ratios. Creates and removes its own environment.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEMO, bench_environment, write_kubeconfig  # noqa: E402




def pod_manifest(name: str, lines: int) -> str:
    script = f"while [ ! -f /tmp/go ]; do sleep 0.05; done; seq 1 {lines}; sleep 1"
    return str(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "burst", "image": DEMO,
                                 "command": ["sh", "-c", script]}]}}))


class LineCounter:
    """A follower process whose stdout lines are counted on a thread."""

    def __init__(self, argv: list[str], lines: int):
        self.lines = lines
        self.count = 0
        self.done_at = 0.0
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._count, daemon=True)
        self.thread.start()

    def _count(self) -> None:
        assert self.process.stdout is not None
        while True:
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                return
            self.count += chunk.count(b"\n")
            if self.count >= self.lines and not self.done_at:
                self.done_at = time.perf_counter()

    def finish(self, timeout: float) -> None:
        self.thread.join(timeout)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def curl_args(kubeconfig: Path) -> list[str]:
    """curl reading the API with the kubeconfig's CA and token (a header file, not argv)."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    ca = kubeconfig.parent / "ca.crt"
    ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    header = kubeconfig.parent / "auth-header"
    header.write_text(f"Authorization: Bearer {config['users'][0]['user']['token']}\n")
    header.chmod(0o600)
    return ["curl", "-sN", "--cacert", str(ca), "-H", f"@{header}", cluster["server"]]


def one_run(kubeconfig: str, lines: int, run: int) -> tuple[float, float, float]:
    kubectl = ["kubectl", "--kubeconfig", kubeconfig]
    curl, server = curl_args(Path(kubeconfig))[:-1], curl_args(Path(kubeconfig))[-1]
    name = f"burst-{run}"
    subprocess.run([*kubectl, "apply", "-f", "-"], input=pod_manifest(name, lines).encode(),
                   check=True, capture_output=True, timeout=60)
    subprocess.run([*kubectl, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s"],
                   check=True, capture_output=True, timeout=70)
    pod = json.loads(subprocess.run([*kubectl, "get", "pod", name, "-o", "json"], check=True,
                                    capture_output=True, timeout=30).stdout)
    container = pod["status"]["containerStatuses"][0]["containerID"].split("://")[-1]
    through_api = LineCounter([*kubectl, "logs", "-f", name], lines)
    direct = LineCounter(["docker", "logs", "-f", container], lines)
    raw = LineCounter([*curl, f"{server}/api/v1/namespaces/default/pods/{name}/log?follow=true"],
                      lines)
    time.sleep(2)  # both followers attached
    subprocess.run(["docker", "exec", container, "touch", "/tmp/go"], check=True, timeout=30)
    started = time.perf_counter()
    for counter in (through_api, direct, raw):
        counter.finish(timeout=120)
    subprocess.run([*kubectl, "delete", "pod", name, "--wait=false"], capture_output=True,
                   timeout=30)
    rates = []
    for label, counter in (("kubectl logs -f", through_api), ("docker logs -f", direct),
                           ("curl pods/log?follow", raw)):
        if counter.count < lines or not counter.done_at:
            raise RuntimeError(f"{label} received {counter.count} of {lines} lines")
        rates.append(lines / (counter.done_at - started))
    print(f"run {run}: kubectl logs -f {rates[0]:,.0f} lines/s, docker logs -f "
          f"{rates[1]:,.0f} lines/s, curl of pods/log {rates[2]:,.0f} lines/s")
    return rates[0], rates[1], rates[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = bench_environment("bench-logs")
    try:
        env.ensure()
        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = write_kubeconfig(env, Path(tmp) / "kubeconfig")
            results = [one_run(str(kubeconfig), args.lines, run) for run in range(args.runs)]
    finally:
        env.down()
    api = statistics.median(r[0] for r in results)
    docker = statistics.median(r[1] for r in results)
    curl = statistics.median(r[2] for r in results)
    print(f"lines per second, median of {args.runs} runs of {args.lines:,} lines:")
    print(f"  kubectl logs -f (pods/log)  {api:12,.0f}")
    print(f"  docker logs -f (direct)     {docker:12,.0f}")
    print(f"  curl of pods/log (no kubectl) {curl:10,.0f}")
    print(f"  ratio kubectl/docker        {api / docker:12.2f}")
    print(f"  ratio curl/docker           {curl / docker:12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
