"""Live ConfigMap updates survive a node restart (issue 14): the new node process adopts the
running pod, reads what its volume holds (the atomic writer's `..data`), and the next change
reaches the file, with the running container untouched."""

from __future__ import annotations

import sys
from pathlib import Path

from localsvc.host.api import Environment

sys.path.insert(0, str(Path(__file__).parent))
from conftest import DEMO_IMAGE, env, exec_out, wait_for, write  # noqa: E402,F401


def _manifests(value: str) -> str:
    return f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: cfg}}
data: {{greeting: {value}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: reader}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: [sleep, "600"]
    volumeMounts: [{{name: cfg, mountPath: /etc/cfg}}]
  volumes: [{{name: cfg, configMap: {{name: cfg}}}}]
"""


def test_update_after_node_restart(env: Environment, tmp_path: Path) -> None:
    env.up([write(tmp_path, "a.yaml", _manifests("hello"))], wait=60)
    assert exec_out(env, "reader", "cat", "/etc/cfg/greeting") == "hello"
    container = env.pod("reader")["status"]["containerStatuses"][0]["containerID"]
    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    env.wait_ready(30)
    env.up([write(tmp_path, "b.yaml", _manifests("again"))], wait=30)
    wait_for(lambda: exec_out(env, "reader", "cat", "/etc/cfg/greeting") == "again",
             timeout=10, what="the change after the restart")
    # One timestamped directory: the old one was removed, not left behind.
    listing = exec_out(env, "reader", "sh", "-c", "ls -a /etc/cfg | grep '^\\.\\.2' | wc -l")
    assert listing.strip() == "1"
    assert env.pod("reader")["status"]["containerStatuses"][0]["containerID"] == container
