"""Endpoint-change latency and node sync cost with 200 Services (the figure of
benchmarks/dataplane.py, alone, in a minute instead of ten).

    python benchmarks/endpoint_change.py [--changes 5]

One nftables environment with 202 Services; a pod's readiness flips off and on `--changes`
times. Prints the median time from the readiness file's removal to refusals on the Service's
ClusterIP (includes the 1 s probe period), the node's apply time of that sync, and the node's
sync cost (`lastSyncSeconds`, when the node reports it). Removes the environment at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataplane import BENCH, ROOT, SERVICES, endpoint_change, manifests  # noqa: E402

from localsvc.host.api import Environment  # noqa: E402
from localsvc.runtime.engine import connect  # noqa: E402
from localsvc.runtime.images import ensure_context_image, ensure_node_image  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args()
    client = connect()
    node_image = ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "benchmarks/image", BENCH,
                         lambda m: print(m, file=sys.stderr))
    tmp = Path("/tmp") / f"localsvc-bench-{uuid.uuid4().hex[:6]}"
    tmp.mkdir()
    env = Environment(f"bench-ep-{uuid.uuid4().hex[:4]}", node_image=node_image,
                      proxy_mode="nftables")
    try:
        started = time.perf_counter()
        env.up([manifests(tmp, SERVICES)], wait=180)
        print(f"up with {SERVICES + 2} Services: {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        changes, syncs = [], []
        for _ in range(args.changes):
            changes.append(endpoint_change(env))
            status = env.node().get("/v1/status")
            if status.get("lastSyncSeconds") is not None:
                syncs.append(float(status["lastSyncSeconds"]))
        e2e = statistics.median(c["e2e_s"] for c in changes)
        apply_ms = statistics.median(c["node_apply_s"] for c in changes) * 1000
        print(f"endpoint change with {SERVICES + 2} Services (nftables), median of "
              f"{args.changes}: end to end {e2e:.3f} s (includes the 1 s probe period), "
              f"node dataplane apply {apply_ms:.1f} ms")
        if syncs:
            print(f"node sync cost (last sync before the status read): median "
                  f"{statistics.median(syncs) * 1000:.1f} ms")
    finally:
        env.down()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
