"""The Kubernetes API an environment serves: what kubectl and the client libraries cost.

    python benchmarks/kubeapi.py [--pods 300] [--runs 20]

In one environment with PODS pods (Deployments of a sleeping container, 100 pods each), it
measures, each against the direct path in the same run:
  - listing the pods through the API (HTTPS, token, JSON and the Table kubectl asks for), against
    Docker's own container list of the same containers (the engine API on its socket);
  - `kubectl get pods` wall time, against `docker ps` of the same containers;
  - watch latency: a ConfigMap patched through the API, from the moment the PATCH is sent until
    the watch event reaches a watching client (an upper bound of store change -> client: it
    includes the write), and the PATCH's own answer time for comparison;
  - the node's resident memory at rest with the API serving PODS pods.
In a second, fresh environment: `kubectl apply -f examples/backend-service/` until every pod is
Ready (`kubectl wait`), against `localsvc apply --wait` of the same manifests on an equally fresh
environment. Prints medians. Creates and removes its own environments.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml

from localsvc.host.api import Environment
from localsvc.net.direct import open_direct
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image
from localsvc.runtime.nodeaddress import NodeAddress

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "backend-service"
DEMO = "localsvc-examples/demo:1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PER_DEPLOYMENT = 100


def sleeping_deployment(name: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    """A Deployment of `replicas` small pods: a shell sleeping, no probe, no port."""
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "sleep", "image": DEMO,
                                         "imagePullPolicy": "Never",
                                         "command": ["sleep", "infinity"]}]}}}}


def sleeping_deployments(pods: int) -> list[dict[str, Any]]:
    return [sleeping_deployment(f"sleeper{n}", min(PER_DEPLOYMENT, pods - n * PER_DEPLOYMENT),
                                {"app": f"sleeper{n}"})
            for n in range((pods + PER_DEPLOYMENT - 1) // PER_DEPLOYMENT)]


def timed(action: Any, runs: int) -> tuple[float, Any]:
    """Median seconds of `runs` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def api_get(address: NodeAddress, path: str, accept: str = "application/json") -> bytes:
    request = urllib.request.Request(address.join(path), headers={
        "Authorization": f"Bearer {address.token}", "Accept": accept})
    with open_direct(request, timeout=60, context=address.ssl_context) as response:
        return bytes(response.read())


def api_patch(address: NodeAddress, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(address.join(path), method="PATCH",
                                     data=json.dumps(body).encode(), headers={
                                         "Authorization": f"Bearer {address.token}",
                                         "Content-Type": "application/merge-patch+json"})
    with open_direct(request, timeout=30, context=address.ssl_context) as response:
        response.read()


def watch_latency(address: NodeAddress, runs: int) -> tuple[float, float]:
    """Median (PATCH sent -> event received, PATCH sent -> PATCH answered), in seconds."""
    base = "/api/v1/namespaces/default/configmaps"
    request = urllib.request.Request(address.join(base), method="POST", data=json.dumps({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bench-watch"},
        "data": {"n": "0"}}).encode(), headers={"Authorization": f"Bearer {address.token}",
                                                "Content-Type": "application/json"})
    with open_direct(request, timeout=30, context=address.ssl_context) as response:
        version = json.load(response)["metadata"]["resourceVersion"]
    seen: dict[str, float] = {}
    arrived = threading.Condition()

    def follow() -> None:
        path = (f"{base}?watch=true&resourceVersion={version}"
                "&fieldSelector=metadata.name%3Dbench-watch&timeoutSeconds=120")
        request = urllib.request.Request(address.join(path), headers={
            "Authorization": f"Bearer {address.token}"})
        with open_direct(request, timeout=130, context=address.ssl_context) as stream:
            for line in stream:
                event = json.loads(line)
                value = event["object"].get("data", {}).get("n")
                with arrived:
                    seen[value] = time.perf_counter()
                    arrived.notify_all()
                if value == str(runs):
                    return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.5)  # the watch is open
    events, answers = [], []
    for n in range(1, runs + 1):
        sent = time.perf_counter()
        api_patch(address, f"{base}/bench-watch", {"data": {"n": str(n)}})
        answered = time.perf_counter()
        with arrived:
            arrived.wait_for(lambda: str(n) in seen, timeout=10)
        events.append(seen[str(n)] - sent)
        answers.append(answered - sent)
    thread.join(5)
    return statistics.median(events), statistics.median(answers)


def kubectl(kubeconfig: str, *args: str, timeout: float = 300) -> float:
    started = time.perf_counter()
    subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], check=True,
                   capture_output=True, timeout=timeout)
    return time.perf_counter() - started


def node_rss_mib(env: str) -> float:
    node = connect().containers.get(f"localsvc-{env}-node")
    status = node.exec_run(["cat", "/proc/1/status"]).output.decode()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return kib / 1024


def big_environment(pods: int, runs: int) -> None:
    env = Environment(f"bench-api-{uuid.uuid4().hex[:6]}")
    client = connect()
    with tempfile.TemporaryDirectory() as tmp:
        manifests = Path(tmp) / "sleepers.yaml"
        manifests.write_text(yaml.safe_dump_all(sleeping_deployments(pods)))
        kubeconfig = Path(tmp) / "kubeconfig"
        try:
            started = time.perf_counter()
            env.up([manifests], wait=900)
            print(f"{pods} pods Ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            kubeconfig.write_text(yaml.safe_dump(env.kubeconfig()))
            address = env.node().address
            path = "/api/v1/namespaces/default/pods"
            json_s, body = timed(lambda: api_get(address, path), runs)
            table_s, table = timed(lambda: api_get(address, path, TABLE), runs)
            assert len(json.loads(body)["items"]) >= pods
            label = {"label": [f"io.localsvc.env={env.name}"]}
            docker_s, _ = timed(lambda: client.api.containers(filters=label), runs)
            kubectl_s, _ = timed(lambda: kubectl(str(kubeconfig), "get", "pods"), max(3, runs // 4))
            ps_s, _ = timed(lambda: subprocess.run(
                ["docker", "ps", "--filter", f"label=io.localsvc.env={env.name}"], check=True,
                capture_output=True), max(3, runs // 4))
            event_s, patch_s = watch_latency(address, runs)
            time.sleep(5)
            rss = node_rss_mib(env.name)
        finally:
            env.down()
    print(f"\nAPI of an environment with {pods} pods, median of {runs}:")
    print(f"  list pods, JSON ({len(body) / 1024:.0f} KiB):        {json_s * 1000:7.1f} ms   "
          f"(Docker's container list of them: {docker_s * 1000:.1f} ms, "
          f"ratio {json_s / docker_s:.1f}x)")
    print(f"  list pods, Table ({len(table) / 1024:.0f} KiB):       {table_s * 1000:7.1f} ms")
    print(f"  kubectl get pods:                    {kubectl_s * 1000:7.1f} ms   "
          f"(docker ps --filter: {ps_s * 1000:.1f} ms, ratio {kubectl_s / ps_s:.1f}x)")
    print(f"  watch: PATCH sent -> event received: {event_s * 1000:7.1f} ms   "
          f"(PATCH answered after {patch_s * 1000:.1f} ms)")
    print(f"  node resident memory at rest:        {rss:7.0f} MiB")


def apply_to_ready(runs: int) -> None:
    kubectl_runs, localsvc_runs = [], []
    for _ in range(runs):
        for route in ("kubectl", "localsvc"):
            env = Environment(f"bench-apply-{uuid.uuid4().hex[:6]}")
            try:
                env.ensure()  # an empty, fresh environment: both routes start from here
                with tempfile.TemporaryDirectory() as tmp:
                    kubeconfig = Path(tmp) / "kubeconfig"
                    kubeconfig.write_text(yaml.safe_dump(env.kubeconfig()))
                    if route == "kubectl":
                        started = time.perf_counter()
                        kubectl(str(kubeconfig), "apply", "-f", str(EXAMPLE))
                        kubectl(str(kubeconfig), "wait", "--for=condition=Ready", "pod", "--all",
                                "--timeout=120s", timeout=130)
                        kubectl_runs.append(time.perf_counter() - started)
                    else:
                        started = time.perf_counter()
                        subprocess.run([sys.executable, "-m", "localsvc", "--env", env.name,
                                        "apply", "-f", str(EXAMPLE), "--wait", "120"],
                                       check=True, capture_output=True, timeout=130,
                                       env={**os.environ})
                        localsvc_runs.append(time.perf_counter() - started)
            finally:
                env.down()
    k, loc = statistics.median(kubectl_runs), statistics.median(localsvc_runs)
    print(f"\nexamples/backend-service into a fresh environment until every pod is Ready, "
          f"median of {runs}:")
    print(f"  kubectl apply -f + kubectl wait:     {k:.2f} s")
    print(f"  localsvc apply -f --wait:            {loc:.2f} s   (kubectl / localsvc = "
          f"{k / loc:.2f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--apply-runs", type=int, default=3)
    args = parser.parse_args()
    client = connect()
    ensure_node_image(client, lambda m: print(m, file=sys.stderr))
    ensure_context_image(client, ROOT / "examples/images/demo", DEMO,
                         lambda m: print(m, file=sys.stderr))
    big_environment(args.pods, args.runs)
    apply_to_ready(args.apply_runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
