"""Issue 10, "measured, and to keep": a CLI or a node killed in the middle of a command loses no
applied object and leaks no Docker object; the next `up` converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker

from localsvc.host.api import Environment
from localsvc.runtime import environment as envrt
from localsvc.runtime import labels as L
from tests.faults.conftest import BASE, DEMO_IMAGE, Cluster, delete_and_wait, unique_env, wait_for
from tests.integration.conftest import labelled

NOTHING = {"containers": 0, "networks": 0, "volumes": 0}

EXTRA = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: extra}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: extra}}}}
  template:
    metadata: {{labels: {{app: extra}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{{name: app, image: {image}, imagePullPolicy: Never}}]
"""


def popen_cli(env_name: str, node_image: str, *args: str) -> subprocess.Popen[str]:
    environ = dict(os.environ, LOCALSVC_ENV=env_name, LOCALSVC_NODE_IMAGE=node_image, NO_COLOR="1")
    return subprocess.Popen([sys.executable, "-m", "localsvc", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environ)


def pod_containers(env: Environment, prefix: str) -> list[str]:
    """Docker containers (infra and app) of the pods whose names start with `prefix`."""
    return [c["Id"] for c in env.docker.api.containers(all=True, filters=L.env_filter(env.name))
            if (c.get("Labels") or {}).get(L.NAME, "").startswith(prefix)]


def ready_pods(env: Environment, prefix: str) -> list[str]:
    return [p["metadata"]["name"] for p in env.get("pods")
            if p["metadata"]["name"].startswith(prefix) and
            any(c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions") or [])]


def test_sigkill_of_the_cli_during_up_then_up_converges(
        docker_client: docker.DockerClient, node_image: str, demo_image: str,
        tmp_path: Path) -> None:
    (tmp_path / "backend.yaml").write_text(BASE.format(demo=demo_image))
    env = Environment(unique_env("c"), node_image=node_image)
    try:
        proc = popen_cli(env.name, node_image, "up", "-f", str(tmp_path), "-d")
        try:
            # Killed once the environment is half made: network there, node starting.
            wait_for(lambda: labelled(docker_client, env.name)["containers"] >= 1, timeout=60,
                     interval=0.05, what="up to create the node")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
        result = subprocess.run(
            [sys.executable, "-m", "localsvc", "up", "-f", str(tmp_path), "-d"],
            capture_output=True, text=True, timeout=180,
            env=dict(os.environ, LOCALSVC_ENV=env.name, LOCALSVC_NODE_IMAGE=node_image))
        assert result.returncode == 0, result.stdout + result.stderr
        wait_for(lambda: len(ready_pods(env, "backend-")) == 2, timeout=60, what="2 ready pods")
        assert len(env.get("pods")) == 2
        # One node, two pods of an infra and an app container each: nothing duplicated (the
        # state volume and each pod's kube-api-access volume).
        assert labelled(docker_client, env.name) == {"containers": 5, "networks": 1, "volumes": 3}
    finally:
        env.down()
    assert labelled(docker_client, env.name) == NOTHING


def test_docker_kill_of_the_node_during_apply_then_up_converges(fault: Cluster,
                                                                tmp_path: Path) -> None:
    env = fault.env
    extra = tmp_path / "extra.yaml"
    extra.write_text(EXTRA.format(image=DEMO_IMAGE))
    proc = popen_cli(env.name, fault.node_image, "apply", "-f", str(extra))
    began = time.time()
    try:
        # The apply is in the node's hands once its first pod appears (or the CLI is done).
        wait_for(lambda: proc.poll() is not None or pod_containers(env, "extra-"),
                 timeout=60, interval=0.05, what="the apply to reach the node")
        fault.node().kill()
    finally:
        proc.communicate(timeout=60)
    env._node = None
    env.up([fault.base / "backend.yaml", fault.base / "watcher.yaml", extra], wait=120)
    fault.restarts.append((began, time.time()))
    wait_for(lambda: len(ready_pods(env, "extra-")) == 2, timeout=60, what="2 ready extra pods")
    assert len(ready_pods(env, "backend-")) == 2
    assert len(pod_containers(env, "extra-")) == 4, "an extra pod was duplicated or left behind"
    delete_and_wait(env, "deploy", "extra")


def test_eight_up_down_cycles_leave_nothing(docker_client: docker.DockerClient, node_image: str,
                                            demo_image: str, tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(f"""
apiVersion: v1
kind: Pod
metadata: {{name: one}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{{name: app, image: {demo_image}, imagePullPolicy: Never}}]
""")
    name = unique_env("u")
    try:
        for _ in range(8):
            env = Environment(name, node_image=node_image)
            env.up([pod], wait=60)
            assert labelled(docker_client, name)["containers"] == 3
            env.down()
            assert labelled(docker_client, name) == NOTHING
    finally:
        envrt.destroy(docker_client, name)
    assert labelled(docker_client, name) == NOTHING
