"""Start-up cost of an environment: `localsvc up -d` of examples/backend-service (images present)
against starting the same four app containers directly with the Docker SDK, `localsvc down`, and
the node container's resident memory at rest.

    python benchmarks/startup.py [--runs 5]

Prints medians and the ratio to the direct path. Creates and removes its own environments.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker

from localsvc.host.api import Environment
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "backend-service"
DEMO = "localsvc-examples/demo:1"


def cli(env: str, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "localsvc", "--env", env, *args], check=True,
                   capture_output=True)
    return time.perf_counter() - started


def direct(client: docker.DockerClient) -> float:
    """The same containers without localsvc: a network, 3 backends, 1 client, started."""
    label = f"localsvc-bench-direct-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    net = client.networks.create(label, labels={"io.localsvc.bench": label})
    for i in range(3):
        client.containers.run(DEMO, ["serve", "--port", "80"], name=f"{label}-b{i}", detach=True,
                              network=label, labels={"io.localsvc.bench": label})
    client.containers.run(DEMO, ["client", f"http://{label}-b0/"], name=f"{label}-c", detach=True,
                          network=label, labels={"io.localsvc.bench": label})
    elapsed = time.perf_counter() - started
    for c in client.containers.list(all=True, filters={"label": f"io.localsvc.bench={label}"}):
        c.remove(force=True)
    net.remove()
    return elapsed


def node_rss_mib(env: str, client: docker.DockerClient) -> float:
    node = client.containers.get(f"localsvc-{env}-node")
    status = node.exec_run(["cat", "/proc/1/status"]).output.decode()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return kib / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = connect()
    ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "examples/images/demo", DEMO, lambda m: print(m, file=sys.stderr))
    ups, downs, rss, directs = [], [], [], []
    for i in range(args.runs):
        env = f"bench-up-{uuid.uuid4().hex[:6]}"
        try:
            ups.append(cli(env, "up", "-d", "-f", str(EXAMPLE)))
            time.sleep(5)  # at rest: probes running, nothing changing
            rss.append(node_rss_mib(env, client))
            downs.append(cli(env, "down"))
        finally:
            Environment(env).down()
        directs.append(direct(client))
        print(f"run {i + 1}/{args.runs}: up -d {ups[-1]:.2f} s, down {downs[-1]:.2f} s, "
              f"direct {directs[-1]:.2f} s", file=sys.stderr)
    up, dn, d = statistics.median(ups), statistics.median(downs), statistics.median(directs)
    print(f"\nexamples/backend-service (3 backends + client, images present), median of {args.runs}:")
    print(f"  localsvc up -d (network, node, 4 pods, Ready):  {up:.2f} s")
    print(f"  direct docker run of the 4 containers:           {d:.2f} s   (localsvc / direct = {up / d:.1f}x)")
    print(f"  localsvc down:                                   {dn:.2f} s")
    print(f"  node container resident memory at rest:         {statistics.median(rss):.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
