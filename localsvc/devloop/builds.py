"""Building the images a project declares in localsvc.yaml (before pods that use them start).

A build is skipped when the image was built from the same context content, build args and target
(a label on the image records a hash of them), so `up` costs nothing when nothing changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import docker
import docker.errors

from localsvc.model.project import ImageBuild
from localsvc.runtime.images import CONTENT_LABEL, build_image, context_hash, ensure_base_image

Progress = Callable[[str], None]


def build_key(image: ImageBuild) -> str:
    digest = hashlib.sha256()
    digest.update(context_hash(image.context, image.dockerfile).encode())
    digest.update(repr((sorted(image.args.items()), image.target, image.dockerfile)).encode())
    return digest.hexdigest()[:16]


def ensure_project_image(client: docker.DockerClient, image: ImageBuild, progress: Progress,
                         force: bool = False) -> bool:
    """Build `image` unless an up-to-date one exists; returns whether a build happened.

    Dockerfiles may start with `ARG BASE` / `FROM ${BASE}`: BASE is then the local Python base
    (pulled or built with debootstrap), so projects build where no registry is reachable."""
    key = build_key(image)
    if not force:
        try:
            if client.images.get(image.name).labels.get(CONTENT_LABEL) == key:
                return False
        except docker.errors.ImageNotFound:
            pass
    args = dict(image.args)
    dockerfile_text = (image.context / image.dockerfile).read_text(errors="replace")
    if "BASE" not in args and "ARG BASE" in dockerfile_text:
        args["BASE"] = ensure_base_image(client, progress)
    progress(f"building image {image.name} from {image.context}")
    build_image(client, image.context, image.name, progress, dockerfile=image.dockerfile,
                buildargs=args, labels={CONTENT_LABEL: key}, target=image.target)
    return True
