"""Fixtures for tests against the real Docker engine: images built locally, one fresh
environment per test (or module), always removed afterwards."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from localsvc.host.api import Environment
from localsvc.runtime import labels as L
from localsvc.runtime.engine import connect
from localsvc.runtime.images import ensure_context_image, ensure_node_image

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONTEXT = ROOT / "examples" / "images" / "demo"
DEMO_IMAGE = "localsvc-examples/demo:1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    # No skip: an integration run without an engine is a failure, not a pass.
    return connect()


@pytest.fixture(scope="session")
def node_image(docker_client: docker.DockerClient) -> str:
    return ensure_node_image(docker_client, lambda m: print(m, file=sys.stderr))


def ensure_demo_image(client: docker.DockerClient) -> str:
    """The demo app image, rebuilt only when its sources changed."""
    return ensure_context_image(client, DEMO_CONTEXT, DEMO_IMAGE, lambda m: print(m, file=sys.stderr))


@pytest.fixture(scope="session")
def demo_image(docker_client: docker.DockerClient) -> str:
    return ensure_demo_image(docker_client)


def unique_env(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def env(node_image: str, demo_image: str) -> Iterator[Environment]:
    environment = Environment(unique_env(), node_image=node_image)
    try:
        yield environment
    finally:
        environment.down(volumes=True)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def localsvc(env: Environment, *args: str, check: bool = True, timeout: float = 180,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a user would, in the given environment."""
    environ = dict(os.environ, LOCALSVC_ENV=env.name, LOCALSVC_NODE_IMAGE=env.node_image or "",
                   NO_COLOR="1")
    result = subprocess.run([sys.executable, "-m", "localsvc", *args], capture_output=True,
                            text=True, env=environ, timeout=timeout, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"localsvc {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def labelled(client: docker.DockerClient, env_name: str) -> dict[str, int]:
    """Docker objects of the environment, counted with list calls only (no per-object inspect,
    which would race with a reaper or a `down` removing them)."""
    f = {"label": [f"{L.ENV}={env_name}"]}
    return {
        "containers": len(client.api.containers(all=True, filters=f)),
        "networks": len(client.api.networks(filters=f)),
        "volumes": len(client.api.volumes(filters=f).get("Volumes") or []),
    }


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}: last={last!r}")


def exec_out(env: Environment, pod: str, *cmd: str, namespace: str = "default",
             container: str | None = None) -> str:
    cid = env.container_id(pod, container, namespace)
    result = env.docker.containers.get(cid).exec_run(list(cmd))
    assert result.exit_code == 0, result.output.decode(errors="replace")
    return str(result.output.decode())


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(low: int = 30000, high: int = 32767, avoid: set[int] | None = None) -> int:
    """A port in [low, high] (default: the node-port range) that nothing holds on 127.0.0.1
    right now; drawn at random so parallel runs rarely pick the same one."""
    avoid = avoid or set()
    for port in random.sample(range(low, high + 1), min(200, high - low + 1)):
        if port not in avoid and _bindable(port):
            return port
    raise AssertionError(f"no free port in {low}-{high} on 127.0.0.1")


POSTGRES_CONTEXT = ROOT / "examples" / "images" / "postgres"
POSTGRES_IMAGE = "localsvc-examples/postgres:15"


@pytest.fixture(scope="session")
def postgres_image(docker_client: docker.DockerClient) -> str:
    """Debian's PostgreSQL 15 image (examples/images/postgres), rebuilt only when it changed."""
    return ensure_context_image(docker_client, POSTGRES_CONTEXT, POSTGRES_IMAGE,
                                lambda m: print(m, file=sys.stderr))
