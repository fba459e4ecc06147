"""A claim's data through the node (issue 14 "Persistent volumes"): a Deployment's pod mounts a
PersistentVolumeClaim; what it wrote survives its container's restart, the pod's deletion and
re-creation, a node restart and an `up` with changed manifests (a new pod template)."""

from __future__ import annotations

import sys
from pathlib import Path

from localsvc.host.api import Environment

sys.path.insert(0, str(Path(__file__).parent))
from conftest import DEMO_IMAGE, env, exec_out, wait_for, write  # noqa: E402,F401


def _manifests(version: str) -> str:
    return f"""apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: keeper}}
spec:
  replicas: 1
  strategy: {{type: Recreate}}
  selector: {{matchLabels: {{app: keeper}}}}
  template:
    metadata: {{labels: {{app: keeper}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: app
        image: {DEMO_IMAGE}
        command: [sleep, "600"]
        env: [{{name: VERSION, value: "{version}"}}]
        volumeMounts: [{{name: data, mountPath: /data}}]
      volumes: [{{name: data, persistentVolumeClaim: {{claimName: data}}}}]
"""


def _running(env: Environment) -> str | None:
    """The one running pod of the Deployment (None while it is being replaced)."""
    pods = [p for p in env.get("pods") if not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("phase") == "Running"]
    return str(pods[0]["metadata"]["name"]) if len(pods) == 1 else None


def _pod(env: Environment) -> str:
    name = _running(env)
    assert name is not None, [p["metadata"]["name"] for p in env.get("pods")]
    return name


def _read(env: Environment) -> str:
    return exec_out(env, _pod(env), "cat", "/data/row.txt").strip()


def test_claim_data_outlives_containers_pods_the_node_and_new_templates(
        env: Environment, tmp_path: Path) -> None:
    env.up([write(tmp_path, "a.yaml", _manifests("1"))], wait=90)
    claim = env.get("persistentvolumeclaims")[0]
    assert claim["status"]["phase"] == "Bound"
    first = _pod(env)
    exec_out(env, first, "sh", "-c", "echo kept > /data/row.txt")

    # The container restarts (killed): the kubelet starts it again on the same claim.
    container = env.pod(first)["status"]["containerStatuses"][0]["containerID"]
    env.docker.containers.get(container.removeprefix("docker://")).kill()
    wait_for(lambda: env.pod(first)["status"]["containerStatuses"][0].get("restartCount", 0) >= 1
             and env.pod(first)["status"]["containerStatuses"][0].get("ready"),
             timeout=60, what="the restarted container")
    assert _read(env) == "kept"

    # The pod is deleted: its Deployment makes another one, which mounts the same data.
    env.delete_objects("pod", [first])
    wait_for(lambda: _running(env) not in (None, first), timeout=60, what="a new pod")
    env.wait_ready(60)
    assert _read(env) == "kept"

    # The node restarts: it adopts the pod and serves the same binding.
    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    env.wait_ready(60)
    assert env.get("persistentvolumeclaims")[0]["spec"]["volumeName"] == \
        claim["spec"]["volumeName"]
    assert _read(env) == "kept"

    # `up` with changed manifests: a new pod template, a new pod, the same data.
    before = _pod(env)
    env.up([write(tmp_path, "b.yaml", _manifests("2"))], wait=90)
    wait_for(lambda: _running(env) not in (None, before), timeout=60, what="the new template's pod")
    assert _read(env) == "kept"
    volumes = [v.name for v in env.docker.volumes.list(
        filters={"label": [f"io.localsvc.env={env.name}", "io.localsvc.role=claim-volume"]})]
    assert volumes == [f"localsvc-{env.name}-pvc-default.data"]
