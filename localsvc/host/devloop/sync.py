"""`sync` rules of localsvc.yaml: copy changed files into the running containers of an image,
without a rebuild (like compose's develop.watch `sync`)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import docker
import docker.errors

from localsvc.model.project import SyncRule


def containers_running(pods: Iterable[dict[str, Any]], image: str) -> list[str]:
    """IDs of running containers whose spec uses `image`."""
    out = []
    for pod in pods:
        images = {c["name"]: c.get("image") for c in pod["spec"].get("containers") or []}
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            cid = str(status.get("containerID") or "").removeprefix("docker://")
            if cid and images.get(status["name"]) == image and "running" in (status.get("state") or {}):
                out.append(cid)
    return out


def _archive(path: Path, arcname: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(path), arcname=arcname)
    return buffer.getvalue()


def sync_files(client: docker.DockerClient, container_ids: Iterable[str], rule: SyncRule,
               files: Iterable[Path]) -> int:
    """Copy each changed file under rule.src to rule.dest in every container; returns copies made."""
    archives = []  # (target directory, tar of the file), made once for every container
    for file in files:
        if file.is_file():
            relative = file.resolve().relative_to(rule.src.resolve())
            target = PurePosixPath(rule.dest) / PurePosixPath(*relative.parts)
            archives.append((str(target.parent), _archive(file, target.name)))
    copies = 0
    for cid in container_ids:
        try:
            container = client.containers.get(cid)
            for directory in sorted({d for d, _ in archives}):
                container.exec_run(["mkdir", "-p", directory])
            for directory, data in archives:
                container.put_archive(directory, data)
                copies += 1
        except docker.errors.APIError:
            continue
    return copies
