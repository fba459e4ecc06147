"""DaemonSets on the real engine: one pod on the environment's one node, `kubectl rollout
status ds` through a template change, and a nodeSelector the node does not match (no pod)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, localsvc, wait_for, write
from tests.integration.kubectl_support import Kubectl, write_kubeconfig

Obj = dict[str, Any]


@pytest.fixture
def kubectl(env: Environment, tmp_path: Path) -> Kubectl:
    env.ensure()
    return Kubectl(env, write_kubeconfig(env, tmp_path))


def daemonset(name: str, version: str, extra: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 0
{extra}      containers:
      - name: agent
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        env: [{{name: VERSION, value: "{version}"}}]
        readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
"""


def live_pods(env: Environment, app: str) -> list[Obj]:
    return [p for p in env.get("pods", namespace="default")
            if p["metadata"].get("labels", {}).get("app") == app
            and not p["metadata"].get("deletionTimestamp")]


def test_one_pod_rolled_by_rollout_status(env: Environment, tmp_path: Path,
                                          kubectl: Kubectl) -> None:
    env.up([write(tmp_path, "ds.yaml", daemonset("agent", "1"))], wait=60)
    (pod,) = live_pods(env, "agent")
    meta = pod["metadata"]
    assert meta["name"].startswith("agent-") and len(meta["name"]) == len("agent-") + 5
    assert meta["ownerReferences"][0]["kind"] == "DaemonSet"
    assert meta["labels"]["pod-template-generation"] == "1"
    done = kubectl.run("rollout", "status", "ds/agent", "--timeout=30s", request_timeout=None)
    assert 'daemon set "agent" successfully rolled out' in done.stdout
    status = env.get("daemonsets", "agent")[0]["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"],
            status["numberReady"], status["updatedNumberScheduled"],
            status["numberAvailable"], status["observedGeneration"]) == (1, 1, 1, 1, 1, 1)
    assert kubectl.run("get", "ds", "--no-headers").stdout.split()[:7] == [
        "agent", "1", "1", "1", "1", "1", "<none>"]

    env.apply([write(tmp_path, "ds.yaml", daemonset("agent", "2"))])
    rolled = kubectl.run("rollout", "status", "ds/agent", "--timeout=45s", request_timeout=None)
    assert 'daemon set "agent" successfully rolled out' in rolled.stdout
    (new,) = wait_for(lambda: len(live_pods(env, "agent")) == 1 and live_pods(env, "agent"),
                      timeout=20, what="one pod")
    assert new["metadata"]["name"] != meta["name"]
    assert new["metadata"]["labels"]["pod-template-generation"] == "2"
    # A rebuilt image rolls it, as it rolls a Deployment (the dev loop's restart).
    assert env.restart_image(DEMO_IMAGE)[0]["action"] == "restarted"
    wait_for(lambda: [p["metadata"]["name"] for p in live_pods(env, "agent")
                      if p["status"].get("phase") == "Running"] not in ([], [new["metadata"]["name"]]),
             timeout=30, what="a new pod")
    again = kubectl.run("rollout", "status", "ds/agent", "--timeout=45s", request_timeout=None)
    assert 'daemon set "agent" successfully rolled out' in again.stdout
    kubectl.run("delete", "ds", "agent")
    wait_for(lambda: not live_pods(env, "agent"), timeout=30, what="its pod to go")


def test_a_node_selector_that_does_not_match_runs_no_pod(env: Environment,
                                                         tmp_path: Path) -> None:
    elsewhere = daemonset("gpu", "1", "      nodeSelector: {accelerator: gpu}\n")
    linux = daemonset("linux", "1", "      nodeSelector: {kubernetes.io/os: linux}\n")
    env.up([write(tmp_path, "ds.yaml", elsewhere + "---" + linux)], wait=60)
    assert live_pods(env, "gpu") == [] and len(live_pods(env, "linux")) == 1
    table = localsvc(env, "get", "ds", "--no-headers").stdout.splitlines()
    assert [row.split()[:7] for row in table] == [
        ["gpu", "0", "0", "0", "0", "0", "accelerator=gpu"],
        ["linux", "1", "1", "1", "1", "1", "kubernetes.io/os=linux"]]
    status = env.get("daemonsets", "gpu")[0]["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"]) == (0, 0)
