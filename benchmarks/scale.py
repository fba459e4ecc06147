"""Scale: one environment with 100 Services and 300 pods on this machine (issue 15).

    python benchmarks/scale.py [--services 100] [--pods 300] [--changes 5] [--runs 5]

The environment: benchmarks/dataplane.py's real servers (the `server` pod behind Service
`bench`, the `flip` pod behind Service `flip` whose readiness a file switches, the `client` pod)
plus Deployments of small pods (a shell sleeping, no probe) behind the other Services, three
or four pods each, until there are `--services` Services and `--pods` pods. Prints, each next to
the direct path measured in the same run where there is one:
  - time from `up` to every pod Ready, against `docker run -d` of as many sleeping containers
    (8 at a time, as the node's pod workers do not go wider on 2 cores) and their removal;
  - the node's resident memory at rest;
  - an endpoint change: readiness file removed -> connections refused on the ClusterIP, and
    back (both include the 1 s probe period), with the node's own time for it;
  - DNS queries/s from a pod (dataplane.py's figures, against a trivial UDP responder);
  - `localsvc get pods` and `kubectl get pods` wall time, against `docker ps --filter`.
Removes what it made at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_kubeconfig  # noqa: E402
from dataplane import ROOT, bench_images, dns_figures, manifests  # noqa: E402
from endpoint_change import flip_cycles, median  # noqa: E402
from kubeapi import DEMO, node_rss_mib, sleeping_deployment, timed  # noqa: E402

from localsvc.host.api import Environment  # noqa: E402
from localsvc.runtime.engine import connect  # noqa: E402
from localsvc.runtime.images import ensure_context_image  # noqa: E402

REAL_PODS = 3  # server, client, flip
REAL_SERVICES = 2  # bench, flip
DIRECT_PARALLEL = 8


def sleepers(services: int, pods: int) -> list[dict[str, Any]]:
    """A Deployment of sleeping pods and its Service, `services` times, `pods` pods in all."""
    out: list[dict[str, Any]] = []
    for n in range(services):
        replicas = pods // services + (1 if n < pods % services else 0)
        labels = {"app": f"sleeper-{n}"}
        out.append(sleeping_deployment(f"sleeper-{n}", replicas, labels))
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"sleeper-{n}"},
                    "spec": {"selector": labels, "ports": [{"port": 80}]}})
    return out


def direct_start(count: int) -> tuple[float, float]:
    """Seconds to `docker run -d` `count` sleeping containers, DIRECT_PARALLEL at a time, and to
    remove them."""
    client = connect()
    label = f"localsvc-bench-scale-direct={uuid.uuid4().hex[:6]}"
    key, _, value = label.partition("=")

    def run(_: int) -> Any:
        return client.containers.run(DEMO, ["sleep", "infinity"], detach=True,
                                     labels={key: value})

    with ThreadPoolExecutor(DIRECT_PARALLEL) as pool:
        started = time.perf_counter()
        containers = list(pool.map(run, range(count)))
        up = time.perf_counter() - started
        started = time.perf_counter()
        list(pool.map(lambda c: c.remove(force=True), containers))
        return up, time.perf_counter() - started


def wall(*argv: str) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    node_image = bench_images()
    ensure_context_image(connect(), ROOT / "examples/images/demo", DEMO,
                         lambda m: print(m, file=sys.stderr))
    env = Environment(f"bench-scale-{uuid.uuid4().hex[:4]}", node_image=node_image,
                      proxy_mode="nftables")
    sleeper_pods = args.pods - REAL_PODS
    with tempfile.TemporaryDirectory() as tmp:
        real = manifests(Path(tmp), 0)
        extra = Path(tmp) / "sleepers.yaml"
        extra.write_text(yaml.safe_dump_all(sleepers(args.services - REAL_SERVICES, sleeper_pods)))
        try:
            started = time.perf_counter()
            env.up([real, extra], wait=1800)
            ready_s = time.perf_counter() - started
            print(f"{args.pods} pods Ready in {ready_s:.1f} s", file=sys.stderr)
            kubeconfig = write_kubeconfig(env, Path(tmp) / "kubeconfig")
            time.sleep(5)
            rss = node_rss_mib(env.name)
            off, on = flip_cycles(env, args.changes)
            localsvc_s, _ = timed(lambda: wall(sys.executable, "-m", "localsvc", "--env",
                                               env.name, "get", "pods"), args.runs)
            kubectl_s, _ = timed(lambda: wall("kubectl", "--kubeconfig", str(kubeconfig),
                                              "get", "pods", "-A"), args.runs)
            ps_s, _ = timed(lambda: wall("docker", "ps", "--filter",
                                         f"label=io.localsvc.env={env.name}"), args.runs)
            dns_figures(env, 3, 3.0)
        finally:
            env.down()
    direct_up, direct_rm = direct_start(args.pods)
    print(f"\nscale: {args.services} Services, {args.pods} pods ({sleeper_pods} sleeping shells, "
          f"{REAL_PODS} real servers), one environment (nftables)")
    print(f"  up -> every pod Ready:               {ready_s:7.1f} s   (direct docker run -d of "
          f"{args.pods} containers, {DIRECT_PARALLEL} at a time: {direct_up:.1f} s, "
          f"{ready_s / direct_up:.1f}x; their removal {direct_rm:.1f} s)")
    print(f"  node resident memory at rest:        {rss:7.0f} MiB")
    for name, changes in (("endpoint removed", off), ("endpoint back", on)):
        print(f"  {name:17} end to end          {median(changes, 'e2e_s'):7.3f} s   (1 s probe "
              f"period included; target <= 1.100 s); node: nftables "
              f"{median(changes, 'sync_ms'):.1f} ms, DNS index {median(changes, 'dns_ms'):.1f} ms,"
              f" controller {median(changes, 'controller_ms'):.1f} ms")
    print(f"  localsvc get pods:                   {localsvc_s * 1000:7.0f} ms  (median of "
          f"{args.runs}; docker ps --filter of the same containers: {ps_s * 1000:.0f} ms, "
          f"{localsvc_s / ps_s:.2f}x)")
    print(f"  kubectl get pods -A:                 {kubectl_s * 1000:7.0f} ms  ({kubectl_s / ps_s:.2f}x"
          f" docker ps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
