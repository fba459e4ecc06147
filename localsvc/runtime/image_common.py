"""Shared by the image modules: Docker SDK error translation, image lookups and pulls, content
hashes, scratch directories, host build steps."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from localsvc.errors import EngineError, ImageError

Progress = Callable[[str], None]

BUILD_LOG_TAIL = 30
NODE_LABEL = "io.localsvc.image"
_HASH_LEN = 12



@dataclass(frozen=True)
class StepFailure:
    """A host build step that failed: its exit code and the end of its output."""

    code: int
    tail: str


def run_step(args: Sequence[str]) -> StepFailure | None:
    """Run a build step on the host (debootstrap, pip download) with its output captured, both
    streams in order; None when it succeeds, else how it failed, for the error to show."""
    result = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", check=False)
    if result.returncode == 0:
        return None
    return StepFailure(result.returncode, "\n".join(result.stdout.splitlines()[-BUILD_LOG_TAIL:]))

@contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Translate Docker SDK errors raised while doing `action` into localsvc errors."""
    try:
        yield
    except docker.errors.APIError as err:
        raise ImageError(f"{action}: {err.explanation or err}") from err
    except (docker.errors.DockerException, requests.exceptions.RequestException) as err:
        raise EngineError(f"{action}: cannot talk to the Docker engine: {err}") from err


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    with engine_errors(f"looking up image {ref}"):
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
    return True


def try_pull(client: docker.DockerClient, ref: str, progress: Progress) -> bool:
    """Pull `ref`; any failure means "no registry here" and is reported in one line."""
    repository, _, tag = ref.rpartition(":")
    progress(f"pulling {ref}")
    try:
        client.images.pull(repository, tag=tag)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as err:
        reason = getattr(err, "explanation", None) or str(err)
        progress(f"cannot pull {ref} (no registry reachable?): {first_line(reason)}")
        return False
    progress(f"pulled {ref}")
    return True


def first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def offline() -> bool:
    return os.environ.get("LOCALSVC_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def short_hash(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:_HASH_LEN]



@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A scratch directory under /var/tmp (large, not tmpfs), removed whatever happens."""
    base = "/var/tmp" if os.path.isdir("/var/tmp") else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        _remove_tree(path)


def _remove_tree(path: Path) -> None:
    """Remove `path`, first unmounting anything a failed debootstrap left mounted inside it."""
    for mountpoint in sorted(_mounts_under(path), reverse=True):
        subprocess.run(["umount", "-l", mountpoint], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def _mounts_under(path: Path) -> list[str]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(path.resolve()) + "/"
    points = (line.split()[1] for line in lines if len(line.split()) > 1)
    return [p for p in points if p.startswith(prefix)]
