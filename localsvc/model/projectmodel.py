"""The project file's model: a validated `Project`, its images and sync rules, and the default
environment name of a directory. Pure: no file is read here (projectfile.py reads and checks the
file, projectfind.py finds it).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from localsvc.model.names import sanitize_name

ENV_NAME_MAX = 30  # environment names become parts of container names; the API limits them so
_DIGEST_CHARS = 6


def normal_path(path: Path) -> Path:
    """`path` made absolute and normalized (`..` removed), without following symlinks."""
    return Path(os.path.normpath(Path(path).absolute()))


def default_environment_name(directory: Path) -> str:
    """The environment a directory gets when nothing names one: `<dirname>-<6 hex>`.

    The hex digits are the start of sha256 of the directory's real absolute path, so two
    checkouts both named `app` (two CI jobs on one engine) get two environments, while the name
    stays readable. The whole name is a DNS label of at most ENV_NAME_MAX characters.
    """
    real = os.path.realpath(directory)
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:_DIGEST_CHARS]
    stem = sanitize_name(os.path.basename(real), max_len=ENV_NAME_MAX - _DIGEST_CHARS - 1)
    return f"{stem}-{digest}"


@dataclass(frozen=True)
class SyncRule:
    """Copy files changed under `src` (absolute, inside the context) to `dest` in the container."""

    src: Path
    dest: str

    def dest_for(self, path: Path) -> str:
        """Where a changed `path` under `src` goes in the container."""
        rest = normal_path(path).relative_to(self.src)
        return str(PurePosixPath(self.dest, *rest.parts))


@dataclass(frozen=True)
class ImageBuild:
    """One image to build: its name, absolute context, Dockerfile (relative to the context)."""

    name: str
    context: Path
    dockerfile: str
    args: Mapping[str, str] = field(hash=False)
    target: str | None
    sync: tuple[SyncRule, ...]


@dataclass(frozen=True)
class Project:
    """A validated project file; every path in it is absolute and normalized."""

    path: Path
    environment: str | None
    manifests: tuple[Path, ...]
    host_address: str | None
    cluster_domain: str | None
    images: tuple[ImageBuild, ...]
    # The ingress controller's host ports (ingressHttpPort, ingressHttpsPort; 0: any free one).
    ingress_ports: tuple[int | None, int | None] = (None, None)

    @property
    def directory(self) -> Path:
        """The directory holding the project file (relative paths in it start here)."""
        return self.path.parent

    @property
    def environment_name(self) -> str:
        """`environment`, else the default name of the project's directory."""
        return self.environment or default_environment_name(self.directory)

    def image_for(self, path: Path) -> ImageBuild | None:
        """The image whose context contains `path`; the deepest context wins, then the first."""
        target = normal_path(path)
        inside = [i for i in self.images if target.is_relative_to(i.context)]
        return max(inside, key=lambda i: len(i.context.parts), default=None)

    def sync_rule_for(self, image: ImageBuild, path: Path) -> SyncRule | None:
        """The sync rule of `image` whose src is or contains `path` (deepest src wins), or None."""
        target = normal_path(path)
        inside = [r for r in image.sync if target.is_relative_to(r.src)]
        return max(inside, key=lambda r: len(r.src.parts), default=None)
