"""The connection to the Docker engine, and the one place that explains a missing engine.

The engine is chosen as the docker CLI chooses it: DOCKER_HOST, else the context named by
DOCKER_CONTEXT, else the `currentContext` of $DOCKER_CONFIG/config.json (default ~/.docker),
else the default socket. A context's endpoint is in
$DOCKER_CONFIG/contexts/meta/<sha256 of its name>/meta.json, its TLS files (if any) in
$DOCKER_CONFIG/contexts/tls/<same>/docker/{ca,cert,key}.pem.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import docker.tls
import requests

from localsvc.errors import EngineError

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_CONTEXT = "default"

_HINT = (
    "localsvc needs a running Docker engine. Start it (Linux: `sudo systemctl start docker`, or "
    "`sudo bash scripts/provision-docker` from the localsvc checkout; macOS/Windows: start "
    "Docker Desktop), or point DOCKER_HOST or `docker context use` at one."
)


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is, and why: `source` names the setting that chose it."""

    host: str
    context: str = DEFAULT_CONTEXT
    source: str = "the default socket"
    tls_dir: Path | None = None
    skip_tls_verify: bool = False


def docker_config_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get("DOCKER_CONFIG", "").strip()
    if configured:
        return Path(configured)
    home = environ.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".docker"


def context_dir_name(name: str) -> str:
    """The directory name of a context: the hex sha256 of its name."""
    return hashlib.sha256(name.encode()).hexdigest()


def resolve_endpoint(environ: Mapping[str, str]) -> Endpoint:
    """The engine endpoint the docker CLI would use with this environment."""
    host = environ.get("DOCKER_HOST", "").strip()
    if host:
        return Endpoint(host, source="DOCKER_HOST")
    config = docker_config_dir(environ)
    name = environ.get("DOCKER_CONTEXT", "").strip()
    source = "DOCKER_CONTEXT"
    if not name:
        name, source = _current_context(config / "config.json"), f"{config / 'config.json'}"
    if not name or name == DEFAULT_CONTEXT:
        return Endpoint(DEFAULT_HOST)
    return _context_endpoint(config, name, source)


def _current_context(config_file: Path) -> str:
    try:
        data = json.loads(config_file.read_text())
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as err:
        raise EngineError(
            f"{config_file}: cannot read the docker CLI configuration: {err}; fix or remove the "
            "file, or set DOCKER_HOST"
        ) from err
    current = data.get("currentContext", "") if isinstance(data, dict) else ""
    return current if isinstance(current, str) else ""


def _context_endpoint(config: Path, name: str, source: str) -> Endpoint:
    meta_file = config / "contexts" / "meta" / context_dir_name(name) / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
        docker_endpoint = meta["Endpoints"]["docker"]
        host = str(docker_endpoint["Host"])
    except FileNotFoundError as err:
        raise EngineError(
            f"docker context {name!r} (from {source}) does not exist: no {meta_file}; "
            "list contexts with `docker context ls`, or unset DOCKER_CONTEXT / "
            "`docker context use default`"
        ) from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise EngineError(
            f"{meta_file}: field Endpoints.docker.Host of docker context {name!r} is missing "
            f"or unreadable ({err}); recreate the context with `docker context create`"
        ) from err
    tls_dir = config / "contexts" / "tls" / context_dir_name(name) / "docker"
    return Endpoint(
        host,
        context=name,
        source=f"docker context {name!r} (from {source})",
        tls_dir=tls_dir if tls_dir.is_dir() else None,
        skip_tls_verify=bool(docker_endpoint.get("SkipTLSVerify", False)),
    )


def engine_socket_path(endpoint: Endpoint | None = None) -> str:
    """The engine's socket as a path on the engine's own host, for bind-mounting it into the
    node (and the reaper): the socket of a unix:// endpoint (rootless Docker's too), the
    default socket for a remote (tcp://, ssh://) engine, which mounts from its own host."""
    endpoint = endpoint or resolve_endpoint(os.environ)
    if endpoint.host.startswith("unix://"):
        return endpoint.host[len("unix://") :]
    return DEFAULT_SOCKET


def engine_is_remote(endpoint: Endpoint | None = None) -> bool:
    """Whether the engine runs on another machine (tcp://, ssh://): its published ports and
    bind mounts are on that machine, not this one."""
    endpoint = endpoint or resolve_endpoint(os.environ)
    return endpoint.host.startswith(("tcp://", "ssh://", "http://", "https://"))


def _client_for(endpoint: Endpoint, timeout: int, version: str | None) -> docker.DockerClient:
    """`version` None: docker-py asks the engine (`GET /version`) while constructing."""
    if endpoint.source == "DOCKER_HOST":
        # docker-py reads DOCKER_HOST with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH itself.
        return docker.from_env(timeout=timeout, version=version)
    tls: docker.tls.TLSConfig | bool = False
    if endpoint.tls_dir is not None:
        files = {n: endpoint.tls_dir / f"{n}.pem" for n in ("ca", "cert", "key")}
        tls = docker.tls.TLSConfig(
            client_cert=(str(files["cert"]), str(files["key"]))
            if files["cert"].is_file() else None,
            ca_cert=str(files["ca"]) if files["ca"].is_file() else None,
            verify=not endpoint.skip_tls_verify,
        )
    return docker.DockerClient(
        base_url=endpoint.host, timeout=timeout, tls=tls, version=version,
        use_ssh_client=endpoint.host.startswith("ssh://"),
    )


def _pinged_api_version(client: docker.DockerClient) -> str | None:
    """The engine's API version from the `Api-Version` header of an unversioned `GET /_ping`
    (an engine may refuse the client's placeholder version in a versioned path)."""
    api = client.api
    response = api._get(f"{api.base_url}/_ping")
    api._raise_for_status(response)
    version = response.headers.get("Api-Version")
    return str(version) if version else None


def connect(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine the docker CLI would use (see the module docstring)."""
    endpoint = resolve_endpoint(os.environ)
    try:
        # One round trip for every command: the ping both checks the engine answers and gives
        # its API version. docker-py's own detection (`GET /version`, ~20-30 ms: the engine
        # gathers its components' versions) runs only when the ping has no Api-Version header.
        probe = _client_for(endpoint, timeout, docker.constants.MINIMUM_DOCKER_API_VERSION)
        try:
            version = _pinged_api_version(probe)
        finally:
            probe.close()
        client = _client_for(endpoint, timeout, version)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as err:
        raise EngineError(
            f"cannot reach the Docker engine at {endpoint.host} (chosen by {endpoint.source}): "
            f"{err}\n{_HINT}"
        ) from err
    return client
