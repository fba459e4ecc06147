"""Building the images a project declares in localsvc.yaml (before pods that use them start)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker

from localsvc.model.project import ImageBuild
from localsvc.runtime.dockerignore import load_matcher
from localsvc.runtime.images import build_if_changed


def ensure_project_image(client: docker.DockerClient, image: ImageBuild,
                         progress: Callable[[str], None]) -> bool:
    """Build `image` unless an up-to-date one exists; returns whether a build happened.

    Up to date means the same content hash, which covers only what the build sends: edits to
    files its .dockerignore leaves out never rebuild (and so never roll pods)."""
    return build_if_changed(client, image.context, image.name, progress,
                            dockerfile=image.dockerfile, args=image.args, target=image.target)


def sent_to_build(image: ImageBuild, path: Path) -> bool:
    """Whether a changed `path` is part of what a build of `image` sends: under its context and
    not left out by its .dockerignore (the Dockerfile and .dockerignore always are)."""
    try:
        relative = Path(path).resolve().relative_to(Path(image.context).resolve())
    except ValueError:
        return False
    return not load_matcher(image.context, image.dockerfile).ignored(relative.as_posix())
