"""Endpoint-change latency and the node's sync cost with N Services (issue 15: <= 20 ms of node
sync per endpoint change at 1,000 Services, end to end <= 100 ms plus the probe period).

    python benchmarks/endpoint_change.py [--services 1000] [--changes 5]

One nftables environment with N Services of 6 ports (benchmarks/dataplane.py's manifests, pods
without service links) plus the `flip` Service; the flip pod's readiness goes off and on `--changes` times (readiness probe
every 1 s, failureThreshold 1). Prints the medians of:
- end to end: from the readiness file's removal to refusals on the Service's ClusterIP, and from
  its return to accepted connections (both include the probe period);
- the node per change: the nftables sync (partial), deriving the network snapshot, the DNS index
  update, the controller's sync;
- in the same node, the full render against the partial sync of a table of the same size
  (benchmarks/nft_sync.py --inside, on a scratch table), with the targets.
Removes the environment at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataplane import bench_images, manifests  # noqa: E402
from nft_sync import report, run_inside  # noqa: E402

from localsvc.host.api import Environment  # noqa: E402
from localsvc.runtime.environment import node_name  # noqa: E402

# In the client pod: seconds until a connection to argv[1]:5003 is refused (argv[2] == "refused")
# or accepted (argv[2] == "accepted"), trying every 10 ms, at most 20 s.
PROBE = """\
import socket, sys, time
ip, want = sys.argv[1], sys.argv[2]
started = time.perf_counter()
while time.perf_counter() - started < 20:
    try:
        socket.create_connection((ip, 5003), timeout=1).close()
        if want == "accepted":
            break
    except ConnectionRefusedError:
        if want == "refused":
            break
    time.sleep(0.01)
print(time.perf_counter() - started)
"""

STATUS_FIELDS = {"sync_ms": "lastApplySeconds", "derive_ms": "lastDeriveSeconds",
                 "dns_ms": "lastDnsSeconds", "controller_ms": "lastSyncSeconds"}


def without_service_links(path: Path) -> Path:
    """The pods with enableServiceLinks: false, as one would set it with 1,000 Services: else
    each container gets ~33,000 service variables and every `docker exec` (the flip pod's exec
    readiness probe) takes seconds on this machine."""
    text = path.read_text()
    path.write_text(text.replace("spec:\n  terminationGracePeriodSeconds: 0",
                                 "spec:\n  enableServiceLinks: false\n"
                                 "  terminationGracePeriodSeconds: 0"))
    return path


def flip(env: Environment, ready: bool) -> dict[str, Any]:
    """Turn the flip pod's readiness off or on; seconds until the ClusterIP follows, and the
    node's figures of that change."""
    ip = env.get("svc", "flip")[0]["spec"]["clusterIP"]
    pod = env.docker.containers.get(env.container_id("flip"))
    client = env.docker.containers.get(env.container_id("client"))
    before = env.node().get("/v1/status").get("dataplaneSyncs") or {}
    pod.exec_run(["touch" if ready else "rm", "/tmp/ready"])
    started = time.perf_counter()
    result = client.exec_run(["python3", "-c", PROBE, ip, "accepted" if ready else "refused"])
    e2e = min(time.perf_counter() - started, float(result.output.decode().strip() or 99))
    status = env.node().get("/v1/status")
    syncs = status.get("dataplaneSyncs") or {}
    out: dict[str, Any] = {"e2e_s": e2e, "kind": syncs.get("lastKind", "?"),
                           "syncs": int(syncs.get("partialSyncs", 0)) + int(syncs.get("fullSyncs", 0))
                           - int(before.get("partialSyncs", 0)) - int(before.get("fullSyncs", 0))}
    for key, field in STATUS_FIELDS.items():
        out[key] = float(status.get(field) or 0.0) * 1000
    return out


def flip_cycles(env: Environment,
                changes: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`changes` times: the endpoint removed, then back (each flip's figures), the environment
    Ready again after each pair."""
    off: list[dict[str, Any]] = []
    on: list[dict[str, Any]] = []
    for _ in range(changes):
        off.append(flip(env, ready=False))
        on.append(flip(env, ready=True))
        env.wait_ready(60)
    return off, on


def median(changes: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(c[key] for c in changes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args()
    node_image = bench_images()
    tmp = Path("/tmp") / f"localsvc-bench-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    env = Environment(f"bench-ep-{uuid.uuid4().hex[:4]}", node_image=node_image,
                      proxy_mode="nftables")
    total = args.services + 2  # the fillers, `bench` and `flip`
    try:
        started = time.perf_counter()
        env.up([without_service_links(manifests(tmp, args.services))], wait=900)
        print(f"up with {total} Services: {time.perf_counter() - started:.1f} s", file=sys.stderr)
        off, on = flip_cycles(env, args.changes)
        kinds = sorted({c["kind"] for c in off + on})
        print(f"\nendpoint change with {total} Services (nftables), median of {args.changes} "
              f"each way (sync kinds: {', '.join(kinds)}):")
        for name, changes in (("endpoint removed", off), ("endpoint back", on)):
            print(f"  {name:17} end to end {median(changes, 'e2e_s'):.3f} s (includes the 1 s "
                  f"probe period; target <= 1.100 s); node: nftables sync "
                  f"{median(changes, 'sync_ms'):.1f} ms (target <= 20 ms), snapshot "
                  f"{median(changes, 'derive_ms'):.1f} ms, DNS index {median(changes, 'dns_ms'):.1f}"
                  f" ms, controller sync {median(changes, 'controller_ms'):.1f} ms")
        node = ["docker", "exec", "-i", node_name(env.name), "python3"]
        print("\nin the same node, on a scratch table of the same size:")
        print(report(run_inside(node, args.services + 1, 5)))
    finally:
        env.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
