"""Issue 10, cases 2 and 3: a pod with a hostile exec probe affects that pod only."""

from __future__ import annotations

import time
from pathlib import Path

from tests.faults.conftest import DEMO_IMAGE, Cluster, apply_text, cli, delete_and_wait, wait_for

MiB = 1024 * 1024


def node_memory(cluster: Cluster) -> int:
    """The node container's memory use (its cgroup), in bytes."""
    stats = cluster.env.docker.api.stats(cluster.node().id, stream=False)
    return int(stats["memory_stats"].get("usage") or 0)


ZERO_PROBE = """
apiVersion: v1
kind: Pod
metadata: {{name: zero}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {image}
    command: ["sh", "-c", "ln -sf /dev/zero /tmp/ready; exec python3 /app/demo.py serve"]
    readinessProbe: {{exec: {{command: [cat, /tmp/ready]}}, periodSeconds: 1, timeoutSeconds: 1}}
"""


def test_case02_exec_probe_reading_dev_zero_keeps_node_memory_bounded(
        fault: Cluster, tmp_path: Path) -> None:
    before = node_memory(fault)
    apply_text(fault.env, tmp_path, "zero.yaml", ZERO_PROBE.format(image=DEMO_IMAGE))
    wait_for(lambda: fault.env.pod("zero")["status"].get("phase") == "Running", timeout=60,
             what="pod zero to run")
    peak = before
    for _ in range(12):  # 12 probes: unbounded output grew the node by ~150 MB/s
        time.sleep(1)
        peak = max(peak, node_memory(fault))
    conditions = {c["type"]: c["status"] for c in fault.env.pod("zero")["status"]["conditions"]}
    assert conditions.get("Ready") == "False"
    assert peak - before < 100 * MiB, f"node memory grew by {(peak - before) / MiB:.0f} MiB"
    delete_and_wait(fault.env, "pod", "zero")


HANGING = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: hang}}
spec:
  replicas: 6
  selector: {{matchLabels: {{app: hang}}}}
  template:
    metadata: {{labels: {{app: hang}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: app
        image: {image}
        readinessProbe: {{exec: {{command: [sleep, "3600"]}}, periodSeconds: 1, timeoutSeconds: 1}}
"""

FRESH = """
apiVersion: v1
kind: Pod
metadata: {{name: fresh}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{{name: app, image: {image}}}]
"""


def test_case03_hanging_exec_probes_do_not_starve_the_node(fault: Cluster, tmp_path: Path) -> None:
    env = fault.env
    apply_text(env, tmp_path, "hang.yaml", HANGING.format(image=DEMO_IMAGE))
    wait_for(lambda: len([p for p in env.get("pods") if p["metadata"]["name"].startswith("hang-")
                          and p["status"].get("phase") == "Running"]) == 6,
             timeout=90, what="6 hang pods running")
    time.sleep(10)  # ten rounds of timed-out probes
    began = time.monotonic()
    result = cli(env, "dns", "backend", timeout=30)
    assert result.returncode == 0 and (time.monotonic() - began) < 10, result.stderr
    began = time.monotonic()
    apply_text(env, tmp_path, "fresh.yaml", FRESH.format(image=DEMO_IMAGE))
    wait_for(lambda: env.pod("fresh")["status"].get("phase") == "Running", timeout=30,
             what="a new pod to start beside the hanging probes")
    victim, some = [p["metadata"]["name"] for p in env.get("pods")
                    if p["metadata"]["name"].startswith("hang-")][:2]
    env.delete_objects("pod", [victim])
    wait_for(lambda: victim not in {p["metadata"]["name"] for p in env.get("pods")}, timeout=20,
             what=f"deleted pod {victim} to go")
    # Hanging exec processes are ended at their timeout: they do not pile up in the pods.
    processes = env.docker.containers.get(env.container_id(some)).top()["Processes"]
    sleeps = [p for p in processes if "sleep" in " ".join(p)]
    assert len(sleeps) <= 3, f"{len(sleeps)} probe processes left running in {some}"
    env.delete_objects("deploy", ["hang"])
    delete_and_wait(env, "pod", "fresh")
    wait_for(lambda: not [p for p in env.get("pods") if p["metadata"]["name"].startswith("hang-")],
             timeout=30, what="the hang pods to go")
