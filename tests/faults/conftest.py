"""Fault injection against the real engine (issue 10): a shared environment with a ClusterIP
Service and a watcher pod requesting it every 0.2 s, and helpers that check, after each fault,
that the Service answered throughout and that every applied object is still there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from localsvc.host.api import Environment
from localsvc.runtime import environment as envrt
from tests.faults import watch
from tests.integration.conftest import (  # noqa: F401  (fixtures shared with integration tests)
    DEMO_IMAGE,
    demo_image,
    docker_client,
    node_image,
    unique_env,
    wait_for,
)

BASE = """
apiVersion: v1
kind: Service
metadata: {{name: backend}}
spec:
  selector: {{app: backend}}
  ports: [{{port: 80}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: backend}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: backend}}}}
  template:
    metadata: {{labels: {{app: backend}}}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: {demo}
        imagePullPolicy: Never
        env: [{{name: DEMO_ACCESS_LOG, value: "0"}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 80}}, periodSeconds: 1}}
"""

WATCHER = """
apiVersion: v1
kind: Pod
metadata: {{name: watcher}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: watch
    image: {node}
    command: ["python3", "-u", "-c", {script}]
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@dataclass
class Cluster:
    """An environment with backend (2 replicas) behind ClusterIP Service `backend`, and the
    watcher pod."""

    env: Environment
    directory: Path
    node_image: str
    restarts: list[watch.Window] = field(default_factory=list)

    @property
    def base(self) -> Path:
        return self.directory / "base"

    def keys(self) -> set[str]:
        """Every object the node holds, as kind/namespace/name."""
        return {f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
                for kind in ("deploy", "svc", "pods", "ep", "cm", "secrets", "ns")
                for o in self.env.get(kind, namespace=None)}

    def node(self) -> docker.models.containers.Container:
        return self.env.docker.containers.get(envrt.node_name(self.env.name))

    def node_restarts(self) -> int:
        return int(self.node().attrs["RestartCount"])

    def restart_node(self, how: str = "restart") -> None:
        """Restart (or kill: the restart policy brings it back) the node; record the window."""
        began = time.time()
        node = self.node()
        if how == "kill":
            node.kill()
        else:
            node.restart(timeout=5)
        envrt.wait_healthy(self.env.docker, self.env.name, timeout=90)
        self.env._node = None  # the API may be published on another port now
        self.restarts.append((began, time.time()))

    def samples(self) -> list[watch.Sample]:
        cid = self.env.container_id("watcher")
        return watch.parse(self.env.docker.api.logs(cid).decode(errors="replace"))

    def assert_answered_throughout(self, since: float) -> None:
        until = time.time()
        # The last sample may still be in flight: let the watcher log past `until`.
        wait_for(lambda: any(at > until for at, _ in self.samples()), timeout=10,
                 what="the watcher to log")
        found = watch.problems(self.samples(), since, until, self.restarts)
        assert not found, "the ClusterIP Service did not answer throughout:\n" + "\n".join(found)

    def assert_objects_kept(self, before: set[str]) -> None:
        """Every applied object (pods of Deployments aside, they may be replaced) is there."""
        wanted = {k for k in before if not k.startswith("Pod/") or "/watcher" in k}
        missing = wanted - self.keys()
        assert not missing, f"objects lost: {sorted(missing)}"


@pytest.fixture(scope="session")
def cluster(node_image: str, demo_image: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("faults")
    (directory / "base").mkdir()
    (directory / "base" / "backend.yaml").write_text(BASE.format(demo=demo_image))
    (directory / "base" / "watcher.yaml").write_text(
        WATCHER.format(node=node_image, script=json.dumps(watch.WATCHER_SCRIPT)))
    env = Environment(unique_env("f"), node_image=node_image)
    try:
        # The Service first, so that the watcher gets BACKEND_SERVICE_HOST.
        env.up([directory / "base" / "backend.yaml"], wait=120)
        env.apply([directory / "base" / "watcher.yaml"], wait=60)
        cluster = Cluster(env, directory, node_image)
        wait_for(lambda: any(ok for _, ok in cluster.samples()), timeout=30,
                 what="the watcher's first answer")
        yield cluster
    finally:
        env.down()


@pytest.fixture
def fault(cluster: Cluster) -> Iterator[Cluster]:
    """Per test: the Service answers throughout the test and no applied object is lost."""
    before = cluster.keys()
    since = time.time()
    cluster.restarts.clear()
    yield cluster
    cluster.assert_answered_throughout(since)
    cluster.assert_objects_kept(before)


def cli(env: Environment, *args: str, timeout: float = 120, cwd: Path | None = None,
        extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, LOCALSVC_ENV=env.name, LOCALSVC_NODE_IMAGE=env.node_image or "",
                   NO_COLOR="1", **(extra_env or {}))
    return subprocess.run([sys.executable, "-m", "localsvc", *args], capture_output=True,
                          text=True, env=environ, timeout=timeout, cwd=cwd)


def apply_text(env: Environment, directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    env.apply([path])
    return path


def delete_and_wait(env: Environment, kind: str, name: str, timeout: float = 30) -> None:
    env.delete_objects(kind, [name])
    wait_for(lambda: not [p for p in env.get("pods") if p["metadata"]["name"].startswith(name)],
             timeout=timeout, what=f"the pods of {kind}/{name} to go")
