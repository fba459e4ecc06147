"""The ingress controller container (Docker, called in a thread): HAProxy from Debian's package,
in the node image, one container per environment while it has Ingresses to serve.

It publishes the host's HTTP and HTTPS ports (NodeConfig.ingress_ports, 80 and 443 by
default). Docker publishes ports only when it starts a container, so a port that cannot be bound
(another environment or program holds it, or rootless Docker may not bind below 1024) is
replaced by a free port Docker picks, and the reason is kept in a label for `status` and `url`.
The configuration (model/haproxyconfig.py) is copied into the container and HAProxy, running in
master-worker mode, is reloaded with SIGUSR2 only when the files changed: new connections go to
the new worker while the old one finishes the requests in flight. A configuration HAProxy
refuses (`haproxy -c`) is not loaded: the previous one keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from localsvc.model.haproxyconfig import CONFIG_DIR, CONFIG_FILE, HTTP_PORT, HTTPS_PORT
from localsvc.runtime import labels as L
from localsvc.runtime.tarballs import TarEntry, read_archive, tar_of

log = logging.getLogger("localsvc.ingress")
ROLE_INGRESS = "ingress"
NOTE_LABEL = f"{L.PREFIX}.ingress-note"
DIGEST_FILE = "digest"  # under CONFIG_DIR: the digest of the files last written
# A new configuration is first written here and checked (`haproxy -c`), then copied in place.
CHECK_DIR = "/tmp/localsvc-ingress-check"
EXEC_TIMEOUT = 20.0


@dataclass(frozen=True)
class Published:
    """Where the controller listens on the host, and why not on the ports asked for."""

    http: int
    https: int
    note: str = ""  # "" when both ports are the ones asked for


def container_name(env: str) -> str:
    return L.resource_name(env, "ingress")


def find(client: docker.DockerClient, env: str) -> Any | None:
    found = client.containers.list(
        all=True, filters={"label": [f"{L.ENV}={env}", f"{L.ROLE}={ROLE_INGRESS}"]})
    return found[0] if found else None


def digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path] + b"\0")
    return h.hexdigest()[:32]


def _archive(files: dict[str, bytes], directory: str = CONFIG_DIR) -> bytes:
    """A tar of the files under `directory`'s last component (extracted into its parent)."""
    top = directory.rstrip("/").rsplit("/", 1)[1]
    return tar_of(TarEntry(f"{top}/{path}", 0o600 if path.endswith(".pem") else 0o644, data)
                  for path, data in sorted({**files, DIGEST_FILE: digest(files).encode()}.items()))


def _parent(directory: str = CONFIG_DIR) -> str:
    return directory.rstrip("/").rsplit("/", 1)[0] or "/"


def relocated(files: dict[str, bytes], directory: str) -> dict[str, bytes]:
    """The files as they would be under `directory` (the paths in them that name CONFIG_DIR
    name `directory`): what `haproxy -c` checks before the live files are replaced."""
    return {path: data.replace(CONFIG_DIR.encode(), directory.encode())
            if path.endswith((".cfg", ".txt")) else data for path, data in files.items()}


def published(container: Any) -> Published:
    """Where `container` publishes its ports, from its attributes as inspected (no reload:
    find()'s list and create()'s get inspect it; a reload after configure() is a SIGUSR2,
    which publishes nothing new)."""
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}

    def host_port(port: int) -> int:
        bindings = ports.get(f"{port}/tcp") or []
        return int(bindings[0]["HostPort"]) if bindings else 0

    return Published(host_port(HTTP_PORT), host_port(HTTPS_PORT),
                     container.labels.get(NOTE_LABEL, ""))


def _try_create(client: docker.DockerClient, env: str, network: str, image: str,
                address: str, http: int | None, https: int | None, note: str,
                files: dict[str, bytes]) -> Any:
    api = client.api
    bindings = {f"{HTTP_PORT}/tcp": (address, http), f"{HTTPS_PORT}/tcp": (address, https)}
    host_config = api.create_host_config(port_bindings=bindings,
                                         restart_policy={"Name": "unless-stopped"})
    created = api.create_container(
        image=image, name=container_name(env),
        entrypoint=["haproxy"], command=["-W", "-db", "-f", f"{CONFIG_DIR}/{CONFIG_FILE}"],
        labels=L.base(env, ROLE_INGRESS, **{NOTE_LABEL: note}),
        ports=[(HTTP_PORT, "tcp"), (HTTPS_PORT, "tcp")], host_config=host_config,
        networking_config=api.create_networking_config(
            {network: api.create_endpoint_config()}))
    try:
        api.put_archive(created["Id"], _parent(), _archive(files))
        api.start(created["Id"])
    except docker.errors.APIError:
        api.remove_container(created["Id"], force=True)
        raise
    return client.containers.get(created["Id"])


def port_reason(message: str) -> str:
    """Docker's words on a port it could not publish, shortened for `up` and `url`."""
    lowered = message.lower()
    if "already allocated" in lowered:
        return "another container (another environment?) publishes it"
    if "address already in use" in lowered:
        return "another program listens on it"
    if "permission denied" in lowered or "privileged" in lowered:
        return "not allowed (rootless Docker cannot bind ports below 1024)"
    return message


def create(client: docker.DockerClient, env: str, network: str, image: str, address: str,
           wanted: tuple[int, int], files: dict[str, bytes]) -> Any:
    """Start the controller on the wanted host ports, or, for each one that cannot be bound,
    on a free port Docker picks (the reason goes into the note label)."""
    http, https = wanted
    attempts: list[tuple[int | None, int | None]] = [
        (http or None, https or None), (http or None, None), (None, https or None), (None, None)]
    failures: list[str] = []
    for want_http, want_https in dict.fromkeys(attempts):
        missed = [f"{address}:{p}" for p, got in ((http, want_http), (https, want_https))
                  if p and got is None]
        note = ""
        if missed:
            note = f"{' and '.join(missed)} not available: {port_reason(failures[0])}"
        try:
            return _try_create(client, env, network, image, address, want_http, want_https,
                               note, files)
        except docker.errors.APIError as err:
            message = str(err.explanation or err)
            failures.append(message)
            log.info("ingress controller on %s:%s/%s: %s", address, want_http, want_https,
                     message)
            if "port" not in message and "bind" not in message.lower():
                raise  # not a port problem (no image, no network): fallback ports cannot help
    raise RuntimeError(f"cannot start the ingress controller: {'; '.join(failures)}")


def current_digest(container: Any) -> str | None:
    """The digest of the configuration in the container (what the last write put there)."""
    try:
        entries = read_archive(container.client.api, container.id, f"{CONFIG_DIR}/{DIGEST_FILE}")
    except (docker.errors.APIError, tarfile.TarError):
        return None
    found = [e.content for e in entries if e.path == DIGEST_FILE and e.content is not None]
    return found[0].decode().strip() if found else None


def configure(container: Any, files: dict[str, bytes]) -> str | None:
    """Check the files with `haproxy -c` in a scratch directory, then write them in place and
    reload HAProxy; an error message when HAProxy refuses them (the live files and the running
    configuration are then left as they were)."""
    if not container.put_archive(_parent(CHECK_DIR),
                                 _archive(relocated(files, CHECK_DIR), CHECK_DIR)):
        return "could not copy the configuration into the ingress controller"
    result = container.exec_run(["haproxy", "-c", "-q", "-f", f"{CHECK_DIR}/{CONFIG_FILE}"])
    if result.exit_code != 0:
        output = (result.output or b"").decode(errors="replace").strip()
        return f"HAProxy refused the generated configuration: {output[-2000:]}"
    if not container.put_archive(_parent(), _archive(files)):
        return "could not copy the configuration into the ingress controller"
    container.kill(signal="SIGUSR2")
    return None


def remove(container: Any) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass


@dataclass(frozen=True)
class Outcome:
    published: Published | None  # None: no controller runs
    error: str = ""


def reconcile(client: docker.DockerClient, env: str, network: str, image: str, address: str,
              wanted: tuple[int, int], files: dict[str, bytes] | None) -> Outcome:
    """Make the controller container match: none when `files` is None, else running with
    these files (created, or adopted from a previous node process and reloaded if they
    differ)."""
    container = find(client, env)
    if files is None:
        if container is not None:
            log.info("removing the ingress controller: no Ingress to serve")
            remove(container)
        return Outcome(None)
    if container is not None and container.status not in ("running", "restarting"):
        remove(container)
        container = None
    if container is None:
        log.info("starting the ingress controller")
        return Outcome(published(create(client, env, network, image, address, wanted, files)))
    error = ""
    if current_digest(container) != digest(files):
        log.info("reloading the ingress controller's configuration")
        error = configure(container, files) or ""
    return Outcome(published(container), error)
