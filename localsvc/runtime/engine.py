"""The connection to the Docker engine, and the one place that explains a missing engine."""

from __future__ import annotations

import docker
import docker.errors

from localsvc.errors import EngineError

_HINT = (
    "localsvc needs a running Docker engine. Start it (Linux: `sudo systemctl start docker`, or "
    "`sudo bash scripts/provision-docker` from the localsvc checkout; macOS/Windows: start "
    "Docker Desktop), or point DOCKER_HOST at one."
)


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine named by the environment (DOCKER_HOST or the local socket)."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as err:
        raise EngineError(f"cannot reach the Docker engine: {err}\n{_HINT}") from err
    return client
