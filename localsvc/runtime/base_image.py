"""The base image: Debian bookworm with Python 3.11.

Pulled as ``python:3.11-slim-bookworm`` when a registry is reachable, otherwise built once with
``debootstrap`` and imported as ``localsvc/debian-python:bookworm-<hash>``.
Environment: ``LOCALSVC_OFFLINE=1`` (never try a pull), ``LOCALSVC_DEBIAN_MIRROR``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker

from localsvc.errors import ImageError
from localsvc.runtime.image_common import (
    NODE_LABEL,
    Progress,
    engine_errors,
    image_exists,
    offline,
    run_step,
    short_hash,
    temp_dir,
    try_pull,
)

PYTHON_IMAGE = "python:3.11-slim-bookworm"
BASE_REPOSITORY = "localsvc/debian-python"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_HINT = (
    "Run scripts/provision-docker as root (installs debootstrap and Docker), or make a registry "
    f"reachable so that {PYTHON_IMAGE} can be pulled, or set LOCALSVC_NODE_IMAGE to an image "
    "that is already on this engine."
)



@dataclass(frozen=True)
class BaseSpec:
    """What debootstrap builds; every field goes into the base image's tag."""

    suite: str = "bookworm"
    variant: str = "minbase"
    include: tuple[str, ...] = (
        "python3",
        "python3-venv",
        "iproute2",
        "nftables",
        "procps",
        "ca-certificates",
    )
    mirror: str = DEFAULT_MIRROR

    @classmethod
    def from_env(cls) -> BaseSpec:
        mirror = os.environ.get("LOCALSVC_DEBIAN_MIRROR", "").strip() or DEFAULT_MIRROR
        return cls(mirror=mirror)

    def tag(self) -> str:
        parts = [self.suite, ",".join(self.include), self.variant, self.mirror]
        return f"{BASE_REPOSITORY}:{self.suite}-{short_hash(p.encode() for p in parts)}"

    def debootstrap_args(self, rootfs: Path) -> list[str]:
        return [
            "debootstrap",
            f"--variant={self.variant}",
            f"--include={','.join(self.include)}",
            self.suite,
            str(rootfs),
            self.mirror,
        ]


def ensure_base_image(client: docker.DockerClient, progress: Progress) -> str:
    """Return a local Debian bookworm + Python 3.11 image: existing, pulled, or debootstrapped."""
    spec = BaseSpec.from_env()
    for ref in (PYTHON_IMAGE, spec.tag()):
        if image_exists(client, ref):
            return ref
    if not offline() and try_pull(client, PYTHON_IMAGE, progress):
        return PYTHON_IMAGE
    return _build_debian_base(client, spec, progress)


def _check_can_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise ImageError(
            f"cannot build the Debian base image: debootstrap is not installed. {_HINT}"
        )
    if os.geteuid() != 0:
        raise ImageError(
            f"cannot build the Debian base image: debootstrap needs root (run as root once; the "
            f"image is cached afterwards). {_HINT}"
        )
    if shutil.which("tar") is None:
        raise ImageError("cannot build the Debian base image: tar is not installed")


def _build_debian_base(client: docker.DockerClient, spec: BaseSpec, progress: Progress) -> str:
    _check_can_debootstrap()
    tag = spec.tag()
    progress(f"building Debian base image with debootstrap (about a minute, once): {tag}")
    started = time.monotonic()
    with temp_dir("localsvc-base-") as workdir:
        rootfs = workdir / "rootfs"
        _debootstrap(spec, rootfs)
        _slim_rootfs(rootfs)
        _import_rootfs(client, rootfs, workdir / "rootfs.tar", tag)
    progress(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _debootstrap(spec: BaseSpec, rootfs: Path) -> None:
    rootfs.mkdir()
    failed = run_step(spec.debootstrap_args(rootfs))
    if failed is not None:
        raise ImageError(
            f"debootstrap failed (exit {failed.code}) with mirror {spec.mirror} "
            f"(set LOCALSVC_DEBIAN_MIRROR to use another):\n{failed.tail}"
        )


def _slim_rootfs(rootfs: Path) -> None:
    """Drop apt lists and downloaded packages: they are large and stale by the next build."""
    for sub in ("var/lib/apt/lists", "var/cache/apt/archives"):
        directory = rootfs / sub
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.is_file() or entry.is_symlink():
                entry.unlink()
    for cache in ("var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"):
        (rootfs / cache).unlink(missing_ok=True)


def _import_rootfs(client: docker.DockerClient, rootfs: Path, tarball: Path, tag: str) -> None:
    subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tarball), "."],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    repository, _, name = tag.rpartition(":")
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["python3"]',
        f"LABEL {NODE_LABEL}=base",
    ]
    with engine_errors(f"importing the Debian base image as {tag}"):
        client.api.import_image(src=str(tarball), repository=repository, tag=name, changes=changes)
    if not image_exists(client, tag):
        raise ImageError(f"importing the Debian base image did not produce {tag}")
