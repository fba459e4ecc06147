"""The pytest plugin, as a user's project meets it: inner pytest sessions in a subprocess (so the
plugin loads from its `pytest11` entry point) against the real engine, then a look at Docker for
anything left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import docker
import pytest

from localsvc.runtime import environment as envrt
from tests.integration.conftest import DEMO_IMAGE, labelled, wait_for

pytest_plugins = ["pytester"]

NOTHING = {"containers": 0, "networks": 0, "volumes": 0}


def app(name: str) -> str:
    """A Deployment of the demo server and a ClusterIP Service `name` port 80 -> 8080."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: {name}
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        env:
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


# The inner tests record the name of their environment in envs/<test name>.
RECORD = """
import os, pathlib, urllib.request

def record(env, request):
    out = pathlib.Path(os.environ["ENVS_DIR"])
    out.mkdir(exist_ok=True)
    (out / request.node.name).write_text(env.name)
"""

PASSING = RECORD + """
def test_app(localsvc_env, request):
    record(localsvc_env, request)
    with urllib.request.urlopen(localsvc_env.service_url("web"), timeout=10) as resp:
        assert resp.read().decode().startswith("hello from web-")
    assert len(localsvc_env.get("pods")) >= 2
"""

FAILING = RECORD + """
def test_app(localsvc_env, request):
    record(localsvc_env, request)
    assert localsvc_env.get("pods") == []
"""

XDIST = RECORD + """
def test_one(localsvc_env, request):
    record(localsvc_env, request)

def test_two(localsvc_env, request):
    record(localsvc_env, request)
"""

SLEEPING = RECORD + """
import time

def test_sleeps(localsvc_env, request):
    record(localsvc_env, request)
    time.sleep(120)
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, node_image: str,
            demo_image: str, docker_client: docker.DockerClient) -> Iterator[pytest.Pytester]:
    """A tiny user project: two-service app in k8s/, the plugin configured in pytest.ini."""
    (pytester.path / "k8s").mkdir()
    (pytester.path / "k8s" / "web.yaml").write_text(app("web"))
    (pytester.path / "k8s" / "api.yaml").write_text(app("api"))
    pytester.makeini("[pytest]\nlocalsvc_manifests = k8s/\nlocalsvc_wait = 90\n")
    monkeypatch.setenv("LOCALSVC_NODE_IMAGE", node_image)
    monkeypatch.setenv("ENVS_DIR", str(pytester.path / "envs"))
    monkeypatch.setenv("NO_COLOR", "1")
    yield pytester
    for name in recorded(pytester):  # whatever a failed assertion below left behind
        envrt.destroy(docker_client, name)


def recorded(pytester: pytest.Pytester) -> list[str]:
    envs = pytester.path / "envs"
    return sorted(p.read_text() for p in envs.iterdir()) if envs.is_dir() else []


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=240)


def test_passing_session_reaches_services_and_removes_its_env(
        project: pytest.Pytester, docker_client: docker.DockerClient) -> None:
    project.makepyfile(test_app=PASSING)
    result = run(project, "-q")
    result.assert_outcomes(passed=1)
    [name] = recorded(project)
    assert name.startswith("pt-main-")
    assert labelled(docker_client, name) == NOTHING


def test_failing_test_shows_pods_and_logs(project: pytest.Pytester,
                                          docker_client: docker.DockerClient) -> None:
    project.makepyfile(test_app=FAILING)
    result = run(project, "-q")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "localsvc pods (" in out
    assert any(line.split()[:2] == ["NAMESPACE", "NAME"] for line in out.splitlines()), out
    assert "serving HTTP on port 8080" in out
    [name] = recorded(project)
    assert labelled(docker_client, name) == NOTHING


def test_xdist_workers_get_their_own_env(project: pytest.Pytester,
                                         docker_client: docker.DockerClient) -> None:
    project.makepyfile(test_app=XDIST)
    result = run(project, "-q", "-n", "2", "--dist", "load")
    result.assert_outcomes(passed=2)
    names = recorded(project)
    assert len(names) == 2 and names[0] != names[1], names
    assert all(n.startswith("pt-gw") for n in names), names
    for name in names:
        assert labelled(docker_client, name) == NOTHING


def test_sigkilled_session_env_is_reaped(project: pytest.Pytester,
                                         docker_client: docker.DockerClient) -> None:
    project.makepyfile(test_app=SLEEPING)
    envs = project.path / "envs"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                            cwd=project.path, start_new_session=True, env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 150
        while not (envs.is_dir() and any(envs.iterdir())):
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise AssertionError(f"the inner session never brought its env up:\n{output}")
            time.sleep(0.2)
        [name] = recorded(project)
        assert labelled(docker_client, name)["containers"] > 0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wait_for(lambda: labelled(docker_client, name) == NOTHING, timeout=60, interval=1,
             what=f"the reaper to remove environment {name}")
