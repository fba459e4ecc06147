"""Pods as Docker containers: one infra container holding the network namespace, and the pod's
containers joined to it. Blocking Docker SDK calls only; what to run comes from model.podplan.

Every container carries labels (env, pod uid, container name, attempt) so that a restarted node
can find and adopt it; nothing about a pod is kept only in memory.
"""

from __future__ import annotations

import tarfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors

from localsvc.model.atomicwriter import Written
from localsvc.model.podplan import ContainerPlan, PodPlan
from localsvc.model.podvolumes import POD_OWNED_VOLUMES
from localsvc.runtime import filevolumes, hostpaths
from localsvc.runtime import labels as L
from localsvc.runtime import podvolumes as pv
from localsvc.runtime.hostpaths import VolumeError as VolumeError  # (re-exported)
from localsvc.runtime.tarballs import read_archive

# The infra container only holds namespaces; a shell loop that exits on TERM is enough and lets
# `docker stop` return at once. It first writes the pod's resolv.conf when one is given: every
# container joined to its network namespace shares that file (Docker would otherwise point them
# at its embedded resolver 127.0.0.11, which does not know the cluster's names).
INFRA_COMMAND = [
    "/bin/sh",
    "-c",
    '[ -n "$LOCALSVC_RESOLV" ] && printf "%s" "$LOCALSVC_RESOLV" > /etc/resolv.conf; '
    'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done',
]


class ImageMissing(Exception):
    """The image is not present and could not be pulled."""


@dataclass(frozen=True)
class PodRef:
    env: str
    namespace: str
    name: str
    uid: str
    network: str

    def labels(self, role: str, **extra: str) -> dict[str, str]:
        return L.base(
            self.env,
            role,
            **{L.NAMESPACE: self.namespace, L.NAME: self.name, L.POD_UID: self.uid, L.KIND: "Pod"},
            **extra,
        )

    def container_name(self, *parts: str) -> str:
        return L.resource_name(self.env, self.namespace, self.name, *parts)


def volume_name(pod: PodRef, volume: str) -> str:
    return L.resource_name(pod.env, "vol", pod.uid[:12], volume)


def pod_volume_prefix(env: str) -> str:
    """What the names of every pod volume of `env` start with (volume_name)."""
    return L.resource_name(env, "vol", "")


def find_pod_containers(client: docker.DockerClient, env: str, uid: str) -> list[Any]:
    return list(
        client.containers.list(
            all=True, filters={"label": [f"{L.ENV}={env}", f"{L.POD_UID}={uid}"]}
        )
    )


def ensure_image(client: docker.DockerClient, image: str, pull_policy: str,
                 on_pull: Callable[[], None] | None = None) -> int | None:
    """Make `image` present per imagePullPolicy; raise ImageMissing with the reason otherwise.
    The pulled image's size in bytes (the kubelet's Pulled event says it), None when it was
    present and not pulled; `on_pull()` just before a pull starts (the kubelet's Pulling)."""
    present = True
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        present = False
    if present and pull_policy != "Always":
        return None
    if pull_policy == "Never":
        raise ImageMissing(
            f'image "{image}" is not present and imagePullPolicy is Never; build or load it first'
        )
    if on_pull is not None:
        on_pull()
    try:
        pulled = client.images.pull(image)  # docker-py reads the image back after the pull
    except docker.errors.APIError as err:
        if present:
            # Always + no registry: a cluster would fail the pull; we say so, and do not run a
            # possibly stale local copy silently.
            raise ImageMissing(
                f'pulling "{image}" failed (imagePullPolicy: Always): {err.explanation or err}; '
                "the image exists locally: set imagePullPolicy: IfNotPresent to use it"
            ) from err
        raise ImageMissing(
            f'image "{image}" is not present locally and pulling it failed: '
            f"{err.explanation or err}. Build it (docker build -t {image} ...) or load it"
        ) from err
    size = pulled.attrs.get("Size")
    return size if isinstance(size, int) else 0


def volume_sources(pod: PodRef, plan: PodPlan) -> dict[str, str]:
    """The Docker volume of each of the pod's volumes but hostPaths: its own (removed with the
    pod) or, for a persistentVolumeClaim, the one its binding recorded (node/claimsync.py made
    it), which outlives it."""
    return {v.name: v.volume if v.kind == "persistentVolumeClaim" else volume_name(pod, v.name)
            for v in plan.volumes if v.kind != "hostPath"}


def create_volumes(client: docker.DockerClient, pod: PodRef, plan: PodPlan) -> None:
    for volume in plan.volumes:
        # (a claim's volume is made by its binding only: the pod waited for it to be bound)
        if volume.kind not in POD_OWNED_VOLUMES:
            continue
        # One call: Docker's create returns the volume of that name when it exists already.
        client.api.create_volume(
            name=volume_name(pod, volume.name),
            labels=pod.labels(L.ROLE_POD_VOLUME, **{L.CONTAINER: volume.name}),
        )


def create_infra(client: docker.DockerClient, pod: PodRef, plan: PodPlan, image: str,
                 resolv_conf: str | None = None,
                 alongside: Callable[[str], list[str]] | None = None,
                 ) -> tuple[Any, dict[str, Written]]:
    """Create and start the infra container, with every volume bound into it; hostPaths are
    checked and configMap/secret files written before it starts, so the pod's containers see
    them from their first instruction. The container and what each file volume holds; raises
    VolumeError (nothing left behind) when a hostPath fails the kubelet's checks.
    `alongside(infra_id)`: run in a thread of its own once the infra container exists, while it
    is prepared and started (the pod's containers created meanwhile: the ids it returns go too
    when the infra container fails)."""
    api = client.api
    hostpaths.ensure_host_files(client, image, pod.labels(L.ROLE_POD_HELPER), plan.volumes)
    binds, mounts = pv.split(pv.infra_mounts(plan.volumes, volume_sources(pod, plan)))
    host_config = api.create_host_config(
        binds=binds, mounts=mounts, ipc_mode="shareable", init=False,
        # The developer's machine, by name, as Docker Desktop provides it (Linux engines too).
        extra_hosts={"host.docker.internal": "host-gateway"},
    )
    networking = api.create_networking_config({pod.network: api.create_endpoint_config()})
    try:
        created = api.create_container(
            image=image,
            command=INFRA_COMMAND,
            entrypoint=[],
            name=pod.container_name("infra"),
            hostname=plan.hostname,
            domainname=plan.domain or "",
            labels=pod.labels(L.ROLE_POD_INFRA),
            environment={"LOCALSVC_RESOLV": resolv_conf} if resolv_conf else None,
            host_config=host_config,
            networking_config=networking,
            stop_signal="SIGTERM",
        )
    except docker.errors.APIError as err:
        refused = hostpaths.refused_source(plan.volumes, err)
        if refused is not None:
            raise refused from err
        raise
    infra_id = created["Id"]
    with ThreadPoolExecutor(max_workers=1) as side:
        made = side.submit(alongside, infra_id) if alongside is not None else None
        try:
            hostpaths.check_host_paths(api, infra_id, plan.volumes)
            written = filevolumes.write_initial(api, infra_id, plan.volumes)
        except VolumeError:
            _remove_ids(api, [infra_id, *(made.result() if made is not None else [])])
            raise
        api.start(infra_id)
        if resolv_conf:
            _wait_for_file(api, infra_id, "/etc/resolv.conf", resolv_conf.encode())
        # Inspected once, started: the pod's IP is given at start.
        return client.containers.get(infra_id), written


def _remove_ids(api: Any, ids: list[str]) -> None:
    for container_id in reversed(ids):  # the pod's containers before the infra container
        try:
            api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass


def _wait_for_file(api: Any, container_id: str, path: str, content: bytes,
                   timeout: float = 3.0) -> None:
    """Wait until the infra container has written `path` (app containers must not start first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            entries = read_archive(api, container_id, path)
            if entries and entries[0].content == content:
                return
        except (docker.errors.APIError, tarfile.TarError):
            pass
        time.sleep(0.01)


def pod_ip(container: Any, network: str) -> str:
    networks = container.attrs.get("NetworkSettings", {}).get("Networks", {})
    return str((networks.get(network) or {}).get("IPAddress") or "")


def create_container(
    client: docker.DockerClient,
    pod: PodRef,
    plan: ContainerPlan,
    infra_id: str,
    attempt: int,
    grace_seconds: int,
    pod_plan: PodPlan,
) -> Any:
    """Create (not start) one of the pod's containers in the infra container's namespaces;
    VolumeError when a subPath of its mounts cannot be prepared."""
    volumes = {v.name: v for v in pod_plan.volumes}
    api = client.api
    binds, mounts = pv.split(pv.container_mounts(api, infra_id, plan, volumes,
                                                 volume_sources(pod, pod_plan)))
    host_config = api.create_host_config(
        binds=binds,
        mounts=mounts,
        network_mode=f"container:{infra_id}",
        ipc_mode=f"container:{infra_id}",
        nano_cpus=plan.nano_cpus,
        mem_limit=plan.mem_limit,
        init=False,
    )
    extra = {L.CONTAINER: plan.name, L.ATTEMPT: str(attempt)}
    if plan.init:
        extra[L.INIT] = "true"
    kwargs: dict[str, Any] = {}
    if plan.command is not None:
        kwargs["entrypoint"] = plan.command
    if plan.args is not None:
        kwargs["command"] = plan.args
    elif plan.command is not None:
        # Kubernetes: `command` without `args` ignores the image's CMD too.
        kwargs["command"] = []
    created = api.create_container(
        image=plan.image,
        name=pod.container_name(plan.name, str(attempt)),
        labels=pod.labels(L.ROLE_POD_CONTAINER, **extra),
        environment=plan.env,
        working_dir=plan.working_dir,
        host_config=host_config,
        stop_timeout=grace_seconds,
        tty=plan.tty,
        stdin_open=plan.stdin,
        **kwargs,
    )
    return client.containers.get(created["Id"])


def remove_older_than(client: docker.DockerClient, pod: PodRef, name: str,
                      keep_attempt: int) -> None:
    """Of container `name`'s attempts, keep `keep_attempt` and later ones (the latest exited
    one stays for `logs --previous`), remove older ones."""
    for container in find_pod_containers(client, pod.env, pod.uid):
        if container.labels.get(L.CONTAINER) != name:
            continue
        if int(container.labels.get(L.ATTEMPT, "0")) < keep_attempt:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


def infra_containers(containers: list[Any]) -> list[Any]:
    """The pod's infra container(s) among its containers (the one holding its network
    namespace; a list, as a half-removed pod may show none)."""
    return [c for c in containers if c.labels.get(L.ROLE) == L.ROLE_POD_INFRA]


def remove_containers(containers: list[Any], grace_seconds: int) -> None:
    """Stop (SIGTERM, then SIGKILL after the grace period) and remove; app containers first."""
    # (A FileOrCreate helper left by a crash goes with the apps.)
    apps = [c for c in containers
            if c.labels.get(L.ROLE) in (L.ROLE_POD_CONTAINER, L.ROLE_POD_HELPER)]
    infra = infra_containers(containers)
    for group in (apps, infra):
        # In parallel, as the kubelet does: a pod's grace period is not per container.
        with ThreadPoolExecutor(max_workers=max(1, len(group))) as pool:
            list(pool.map(lambda c: _stop(c, grace_seconds), group))
        for c in group:
            try:
                c.remove(force=True, v=False)
            except docker.errors.NotFound:
                pass


def _stop(container: Any, grace_seconds: int) -> None:
    try:
        if container.status == "running":
            container.stop(timeout=grace_seconds)
    except docker.errors.APIError:
        pass


def remove_volumes(client: docker.DockerClient, env: str, uid: str) -> None:
    for volume in client.volumes.list(
        filters={"label": [f"{L.ENV}={env}", f"{L.POD_UID}={uid}"]}
    ):
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
