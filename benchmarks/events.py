"""From a probe failure to its Event: how soon `kubectl describe` / `get events -w` can show it.

    python benchmarks/events.py [--runs 8]

One environment, one pod whose readiness probe (exec `test -f /tmp/ready`, periodSeconds 1)
passes while a file exists. Each run: the file is put back and the pod is Ready again; an API
watch of the pod's Unhealthy Events (fieldSelector, from the current version) and an API watch
of the pod are open; the file is removed (`docker exec rm`, the clock starts before it). It
measures, each from that instant:
  - the Unhealthy Event reaching the watching client (what `kubectl get events -w` shows);
  - the pod turning NotReady on the pod watch (the same probe result through the pod status:
    the path that existed before Events, for comparison);
  - the probe command itself run directly (`docker exec test -f /tmp/ready`), what one probe
    costs at least.
The probe runs once a second, so a failure waits 0.5 s on average for the next probe: the
figures include that phase. Prints medians and the ratio event / pod status. Creates and
removes its own environment.

The kubelet may report 25 Events about a pod, then one per 5 minutes (client-go's budget, which
the node applies too: model/events.py). A run costs the pod about two Unhealthy Events (the
failure measured, and often one more before the file is back) and the pod's start three, so at
most MAX_RUNS runs are measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from localsvc.host.api import Environment
from localsvc.net.direct import open_direct
from localsvc.runtime.nodeaddress import NodeAddress
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEMO, bench_environment  # noqa: E402

MAX_RUNS = 8  # within the pod's Event budget (see above)

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probed"},
       "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
           "name": "app", "image": DEMO,
           "command": ["sh", "-c", "touch /tmp/ready; exec sleep 3600"],
           "readinessProbe": {"exec": {"command": ["test", "-f", "/tmp/ready"]},
                              "periodSeconds": 1, "failureThreshold": 1}}]}}


def api_json(address: NodeAddress, path: str) -> Any:
    request = urllib.request.Request(address.join(path), headers={
        "Authorization": f"Bearer {address.token}"})
    with open_direct(request, timeout=30, context=address.ssl_context) as response:
        return json.load(response)


class FirstEvent:
    """A watch in a thread; `at` is when its first event matching `wanted` arrived."""

    def __init__(self, address: NodeAddress, path: str, wanted: Any):
        self.at: float | None = None
        self.arrived = threading.Event()
        request = urllib.request.Request(address.join(path), headers={
            "Authorization": f"Bearer {address.token}"})
        self.stream = open_direct(request, timeout=60, context=address.ssl_context)
        self.wanted = wanted
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.stream:
                if self.wanted(json.loads(line)):
                    self.at = time.perf_counter()
                    self.arrived.set()
                    return
        except (OSError, ValueError):
            return

    def close(self) -> None:
        self.stream.close()


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def one_run(env: Environment, address: NodeAddress, container: Any) -> tuple[float, float]:
    container.exec_run(["touch", "/tmp/ready"])
    deadline = time.monotonic() + 30
    while not ready(api_json(address, "/api/v1/namespaces/default/pods/probed")):
        if time.monotonic() > deadline:
            raise TimeoutError("the pod did not become Ready again")
        time.sleep(0.1)
    time.sleep(1.2)  # no Unhealthy in flight from before
    events = api_json(address, "/api/v1/namespaces/default/events")
    version = events["metadata"]["resourceVersion"]
    unhealthy = FirstEvent(address, (
        "/api/v1/namespaces/default/events?watch=1&timeoutSeconds=30&resourceVersion="
        f"{version}&fieldSelector=involvedObject.name%3Dprobed,reason%3DUnhealthy"),
        lambda e: e["type"] in ("ADDED", "MODIFIED"))
    status = FirstEvent(address, (
        "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=30&resourceVersion="
        f"{version}&fieldSelector=metadata.name%3Dprobed"),
        lambda e: e["type"] == "MODIFIED" and not ready(e["object"]))
    time.sleep(0.3)  # both watches are open
    started = time.perf_counter()
    container.exec_run(["rm", "-f", "/tmp/ready"])
    try:
        if not (unhealthy.arrived.wait(20) and status.arrived.wait(20)):
            raise TimeoutError("no Unhealthy event or NotReady pod within 20 s")
        assert unhealthy.at is not None and status.at is not None
        return unhealthy.at - started, status.at - started
    finally:
        unhealthy.close()
        status.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=MAX_RUNS)
    args = parser.parse_args()
    if not 0 < args.runs <= MAX_RUNS:
        parser.error(f"--runs: 1 to {MAX_RUNS} (the kubelet's Event budget for one pod: 25, "
                     "then one per 5 minutes)")
    env = bench_environment("bench-ev")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "pod.yaml"
            manifest.write_text(yaml.safe_dump(POD))
            env.up([manifest], wait=120)
        address = env.node().address
        container = env.docker.containers.get(env.container_id("probed"))
        directly = []
        for _ in range(args.runs):
            began = time.perf_counter()
            container.exec_run(["test", "-f", "/tmp/ready"])
            directly.append(time.perf_counter() - began)
        runs = [one_run(env, address, container) for _ in range(args.runs)]
    finally:
        env.down()
    event_s = statistics.median(r[0] for r in runs)
    status_s = statistics.median(r[1] for r in runs)
    exec_s = statistics.median(directly)
    print(f"probe failure -> Unhealthy Event on an API watch: {event_s * 1000:7.1f} ms  "
          f"(median of {args.runs}; min {min(r[0] for r in runs) * 1000:.0f}, "
          f"max {max(r[0] for r in runs) * 1000:.0f})")
    print(f"probe failure -> pod NotReady on an API watch:    {status_s * 1000:7.1f} ms  "
          f"(event / pod status: {event_s / status_s:.2f}x)")
    print(f"the probe command run directly (docker exec):     {exec_s * 1000:7.1f} ms")
    print("(probe periodSeconds 1: a failure waits ~500 ms on average for the next probe)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
