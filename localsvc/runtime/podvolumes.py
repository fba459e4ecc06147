"""How a pod's volumes are mounted: into its infra container (every volume, at
/localsvc/volumes/NAME, so the node can write, stat and resolve paths in it through Docker) and
into each container (at its mountPath, read-only where the plan says, a subPath bound from where
it resolves on the engine's host).

Docker 20.10 (API 1.41) has no subpath option for volumes: a subPath is bound from the volume's
Mountpoint (`docker volume inspect`, a path on the engine's host, so this works with a local
engine and Docker Desktop alike) or from the hostPath, after model/subpath.py has followed its
symlinks and refused one that leaves the volume. (The kubelet binds the path through a file
descriptor it opened while checking, so nothing can swap a directory for a symlink in between;
Docker's API takes only paths, so here the resolved path is bound a moment after the check.)
Named volumes are mounted with `nocopy`: a Kubernetes volume starts empty, it never takes the
image's files at its mountPath.
"""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from typing import Any

import docker
import docker.errors
import docker.types

from localsvc.model.podplan import INFRA_MOUNT_ROOT, ContainerPlan, MountPlan, VolumePlan
from localsvc.model.subpath import SubPathError, resolve
from localsvc.runtime.hostpaths import VolumeError, entry, host_path_mount, path_stat
from localsvc.runtime.tarballs import TarEntry, tar_of

Sources = Mapping[str, str]  # volume name -> its Docker volume (hostPath: unused)


def infra_target(volume: str) -> str:
    return f"{INFRA_MOUNT_ROOT}/{volume}"


def _mount(volume: VolumePlan, source: str, target: str, read_only: bool) -> Any:
    if volume.kind == "hostPath":
        return host_path_mount(volume, target, read_only)
    return docker.types.Mount(target, source, type="volume", read_only=read_only, no_copy=True)


def split(mounts: list[Any]) -> tuple[list[str], list[Any]]:
    """Docker's two ways: legacy Binds strings and Mounts."""
    binds = [m for m in mounts if isinstance(m, str)]
    return binds, [m for m in mounts if not isinstance(m, str)]


def infra_mounts(volumes: list[VolumePlan], sources: Sources) -> list[Any]:
    return [_mount(v, sources.get(v.name, ""), infra_target(v.name), False) for v in volumes]


def container_mounts(api: Any, infra_id: str, container: ContainerPlan,
                     volumes: Mapping[str, VolumePlan], sources: Sources) -> list[Any]:
    """The container's mounts; a subPath is prepared (resolved, created) first. Raises
    VolumeError with the kubelet's words when one cannot be."""
    out = []
    for m in container.mounts:
        volume = volumes[m.volume]
        if not m.sub_path:
            out.append(_mount(volume, sources.get(volume.name, ""), m.path, m.read_only))
            continue
        try:
            source = prepare_sub_path(api, infra_id, volume, sources, m)
        except (SubPathError, docker.errors.APIError, tarfile.TarError) as err:
            explanation = err.explanation if isinstance(err, docker.errors.APIError) else None
            raise VolumeError(m.volume, f'failed to prepare subPath for volumeMount "{m.volume}" '
                                        f'of container "{container.name}": '
                                        f"{explanation or err}") from err
        out.append(docker.types.Mount(m.path, source, type="bind", read_only=m.read_only))
    return out


def host_root(api: Any, volume: VolumePlan, sources: Sources) -> str:
    """Where the volume is on the engine's host."""
    if volume.kind == "hostPath":
        return volume.host_path.rstrip("/") or "/"
    return str(api.inspect_volume(sources[volume.name])["Mountpoint"])


def prepare_sub_path(api: Any, infra_id: str, volume: VolumePlan, sources: Sources,
                     mount: MountPlan) -> str:
    """The host path to bind for `mount`'s subPath: resolved inside the volume (symlinks
    followed, none leaving it), missing directories made with the volume root's mode."""
    base = infra_target(volume.name)
    root = host_root(api, volume, sources)
    resolved = resolve(mount.sub_path, lambda rel: entry(api, infra_id, f"{base}/{rel}"), root)
    if resolved.create:
        root_stat = path_stat(api, infra_id, base) or {}
        mode = int(root_stat.get("mode") or 0o755) & 0o7777
        directories = [TarEntry("/".join(resolved.create[:i + 1]), mode, None)
                       for i in range(len(resolved.create))]
        into = f"{base}/{resolved.existing}" if resolved.existing else base
        api.put_archive(infra_id, into, tar_of(directories))
    return f"{root.rstrip('/')}/{resolved.path}" if resolved.path else root


__all__ = ["VolumeError", "container_mounts", "host_root", "infra_mounts", "infra_target",
           "prepare_sub_path", "split"]
