"""Python wheels for the node image: cp311 manylinux wheels downloaded on the host with pip
(containers may not reach PyPI), cached per requirement list and architecture."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from localsvc.errors import ImageError
from localsvc.runtime.image_common import Progress, run_step, short_hash


def wheel_platforms(machine: str | None = None) -> list[str]:
    """pip --platform tags for Debian bookworm (glibc 2.36) on this machine's architecture."""
    arch = _normalise_arch(machine or platform.machine())
    return [f"manylinux2014_{arch}", f"manylinux_2_17_{arch}", f"manylinux_2_28_{arch}"]


def _normalise_arch(machine: str) -> str:
    aliases = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}
    return aliases.get(machine.lower(), machine.lower())


def wheel_cache_dir(requirements: Sequence[str], machine: str | None = None) -> Path:
    """Host cache of the wheels for one requirement list and architecture."""
    platforms = wheel_platforms(machine)
    key = short_hash(s.encode() for s in [*requirements, "cp311", *platforms])
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "localsvc" / "wheels" / key


def pip_download_args(
    requirements: Sequence[str], dest: Path, machine: str | None = None
) -> list[str]:
    args = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    args += ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    args += ["--abi", "abi3", "--abi", "none"]
    for tag in wheel_platforms(machine):
        args += ["--platform", tag]
    return [*args, "--dest", str(dest), *requirements]


def download_wheels(requirements: Sequence[str], progress: Progress) -> Path:
    """Wheels for the node image (cp311, manylinux), downloaded on the host once and cached."""
    cache = wheel_cache_dir(requirements)
    if (cache / ".complete").is_file():
        return cache
    progress(f"downloading {len(requirements)} Python requirements as cp311 wheels on the host")
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
    try:
        _run_pip_download(requirements, partial)
        (partial / ".complete").write_text("\n".join(requirements) + "\n")
        try:
            partial.rename(cache)
        except OSError:  # someone else finished first: theirs is as good
            pass
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    if not (cache / ".complete").is_file():
        raise ImageError(f"wheel cache {cache} is incomplete; delete it and retry")
    return cache


def _run_pip_download(requirements: Sequence[str], dest: Path) -> None:
    failed = run_step(pip_download_args(requirements, dest))
    if failed is not None:
        raise ImageError(
            "downloading the node image's Python wheels on the host failed (is PyPI or a pip "
            f"index reachable from this machine?):\n{failed.tail}"
        )
