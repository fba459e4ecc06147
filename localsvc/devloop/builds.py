"""Building the images a project declares in localsvc.yaml (before pods that use them start)."""

from __future__ import annotations

from collections.abc import Callable

import docker

from localsvc.model.project import ImageBuild
from localsvc.runtime.images import build_if_changed


def ensure_project_image(client: docker.DockerClient, image: ImageBuild,
                         progress: Callable[[str], None]) -> bool:
    """Build `image` unless an up-to-date one exists; returns whether a build happened."""
    return build_if_changed(client, image.context, image.name, progress,
                            dockerfile=image.dockerfile, args=image.args, target=image.target)
