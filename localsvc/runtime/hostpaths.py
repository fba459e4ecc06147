"""Paths seen through the Docker engine: stat, symlink targets, and hostPath type checks.

The node runs in a container and cannot see the engine's host; the engine can. Every volume of a
pod is bound into its infra container (at /localsvc/volumes/NAME), so Docker's own path stat of
that container (`HEAD /containers/ID/archive`, which works before the container starts) tells
what a hostPath is, or what a path inside a volume is. What that means is decided in
model/hostpath.py and model/subpath.py.
"""

from __future__ import annotations

import base64
import json
import posixpath
from typing import Any

import docker
import docker.errors
import docker.types

from localsvc.model import hostpath as hp
from localsvc.model.podplan import INFRA_MOUNT_ROOT, VolumePlan
from localsvc.model.subpath import Entry
from localsvc.runtime.tarballs import TarEntry, read_archive, tar_of

HELPER_MOUNT = "/localsvc/parent"


class VolumeError(Exception):
    """A volume cannot be set up (the pod's containers wait; the message says why and how to
    fix it). `volume`: the volume's name."""

    def __init__(self, volume: str, message: str):
        super().__init__(message)
        self.volume = volume


def path_stat(api: Any, container_id: str, path: str) -> dict[str, Any] | None:
    """Docker's stat of `path` in the container (not following a final symlink); None when
    it does not exist. (docker-py has no call for the HEAD request, only its URL helper.)"""
    response = api.head(api._url("/containers/{0}/archive", container_id),
                        params={"path": path}, timeout=30)
    if response.status_code == 404:
        return None
    api._raise_for_status(response)
    header = response.headers.get("X-Docker-Container-Path-Stat", "")
    stat: dict[str, Any] = json.loads(base64.b64decode(header)) if header else {}
    return stat


def link_target(api: Any, container_id: str, path: str) -> str:
    """A symlink's target as written (Docker's stat gives only its resolution)."""
    entries = read_archive(api, container_id, path)
    return entries[0].link if entries else ""


def entry(api: Any, container_id: str, path: str) -> Entry:
    """`path` of the container as model/subpath.py sees it."""
    stat = path_stat(api, container_id, path)
    if stat is None:
        return Entry(hp.MISSING)
    mode = int(stat.get("mode") or 0)
    if mode & (1 << 27):  # Go's os.ModeSymlink
        return Entry("link", link_target(api, container_id, path))
    return Entry(hp.kind_of_go_mode(mode))


def host_path_mount(volume: VolumePlan, target: str, read_only: bool) -> Any:
    """How `volume` (a hostPath) is bound at `target`: a legacy Binds entry ("src:dst:mode"),
    with which Docker creates a missing directory, for the types that do that; otherwise a
    Mount, with which Docker refuses a missing source instead of making a directory of it."""
    if hp.creates_directory(volume.host_path_type):
        return f"{volume.host_path}:{target}:{'ro' if read_only else 'rw'}"
    return docker.types.Mount(target, volume.host_path, type="bind", read_only=read_only)


def refused_source(plan_volumes: list[VolumePlan],
                   err: docker.errors.APIError) -> VolumeError | None:
    """Docker's refusal of a missing bind source, as the failure of the volume it names."""
    text = str(err.explanation or err)
    marker = "bind source path does not exist: "
    if marker not in text:
        return None
    missing = text.split(marker, 1)[1].strip()
    for volume in plan_volumes:
        if volume.kind == "hostPath" and volume.host_path.rstrip("/") == missing.rstrip("/"):
            decision = hp.decide(volume.host_path_type, volume.host_path, hp.MISSING)
            return VolumeError(volume.name, hp.failure(volume.name, volume.host_path_type,
                                                       volume.host_path, hp.MISSING,
                                                       decision.error or text))
    return None


def check_host_paths(api: Any, infra_id: str, volumes: list[VolumePlan]) -> None:
    """The kubelet's type check of every hostPath volume, on the path bound into the (created,
    not yet started) infra container. Raises VolumeError."""
    for volume in volumes:
        if volume.kind != "hostPath" or volume.host_path_type == "":
            continue
        stat = path_stat(api, infra_id, f"{INFRA_MOUNT_ROOT}/{volume.name}")
        kind = hp.MISSING if stat is None else hp.kind_of_go_mode(int(stat.get("mode") or 0))
        decision = hp.decide(volume.host_path_type, volume.host_path, kind)
        if decision.error:
            raise VolumeError(volume.name, hp.failure(volume.name, volume.host_path_type,
                                                      volume.host_path, kind, decision.error))


def ensure_host_files(client: docker.DockerClient, image: str, labels: dict[str, str],
                      volumes: list[VolumePlan]) -> None:
    """FileOrCreate: an empty 0644 file where none is, made on the engine's host through a
    helper container (never started) that binds the parent directory, which must exist."""
    for volume in volumes:
        if volume.kind == "hostPath" and volume.host_path_type == "FileOrCreate":
            _ensure_host_file(client, image, labels, volume)


def _ensure_host_file(client: docker.DockerClient, image: str, labels: dict[str, str],
                      volume: VolumePlan) -> None:
    api = client.api
    path = volume.host_path.rstrip("/") or "/"
    parent, base = posixpath.split(path)
    host_config = api.create_host_config(
        mounts=[docker.types.Mount(HELPER_MOUNT, parent or "/", type="bind")])
    try:
        created = api.create_container(image=image, command=["true"], entrypoint=[],
                                       labels=labels, host_config=host_config,
                                       network_disabled=True)
    except docker.errors.APIError as err:
        if "does not exist" not in str(err.explanation or err):
            raise
        decision = hp.decide("FileOrCreate", path, hp.MISSING, parent_is_directory=False)
        raise VolumeError(volume.name, hp.failure(volume.name, "FileOrCreate", path,
                                                  hp.MISSING, decision.error)) from err
    try:
        stat = path_stat(api, created["Id"], f"{HELPER_MOUNT}/{base}")
        if stat is None:
            api.put_archive(created["Id"], HELPER_MOUNT, tar_of([TarEntry(base, 0o644)]))
    finally:
        api.remove_container(created["Id"], force=True)


__all__ = ["VolumeError", "check_host_paths", "ensure_host_files", "entry", "host_path_mount",
           "link_target", "path_stat", "refused_source"]
