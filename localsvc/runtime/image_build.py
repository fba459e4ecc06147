"""`build_image`: the one way localsvc runs `docker build` (node, example and app images), and
the content hash that skips builds which would change nothing.

The context is what `docker build` would send: the directory minus its .dockerignore, and the
same files make the content hash, so an edit to an ignored file never rebuilds. The engine's
BuildKit builds it when the engine has one (`RUN --mount=type=cache`, ...); the legacy builder
when BuildKit is missing or refused, or with `LOCALSVC_BUILDER=legacy`; Podman's compatible API
builds with Buildah. The first progress line names the builder and why. A failed build raises
ImageError with its whole log and, when the cause is a known limit of the engine, a hint.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors

from localsvc.errors import ImageError
from localsvc.runtime import buildkit
from localsvc.runtime.base_image import ensure_base_image
from localsvc.runtime.dockerignore import context_entries, context_files
from localsvc.runtime.image_common import Progress, engine_errors, first_line, image_exists

CONTENT_LABEL = "io.localsvc.content"
BUILDKIT, LEGACY, BUILDAH = "BuildKit", "legacy builder", "Buildah of Podman"
BUILDKIT_API = (1, 39)  # Docker 18.09: the first engine API with BuildKit builds


def choose_builder(environ: Mapping[str, str], engine: Mapping[str, Any]) -> tuple[str, str]:
    """The builder for this engine (its `GET /version`) and why: BuildKit where the engine has
    it, unless LOCALSVC_BUILDER=legacy. An engine that refuses BuildKit anyway falls back to
    the legacy builder at build time."""
    wanted = environ.get("LOCALSVC_BUILDER", "").strip().lower()
    if wanted not in {"", "buildkit", "legacy"}:
        raise ImageError(
            f"LOCALSVC_BUILDER={wanted!r} is not a builder: use `buildkit` (the default) or "
            "`legacy`"
        )
    if wanted == "legacy":
        return LEGACY, "LOCALSVC_BUILDER=legacy"
    names = [str(c.get("Name", "")) for c in engine.get("Components") or [] if isinstance(c, dict)]
    if any("podman" in name.lower() for name in names):
        return BUILDAH, "the engine is Podman"
    if str(engine.get("Os", "")).lower() == "windows":
        return LEGACY, "Windows engines have no BuildKit"
    if _api_tuple(str(engine.get("ApiVersion", ""))) < BUILDKIT_API:
        return LEGACY, f"engine API {engine.get('ApiVersion')} predates BuildKit"
    return BUILDKIT, "engine API"


def _api_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return BUILDKIT_API  # unknown: try BuildKit, the refusal fallback covers the rest


def build_hint(dockerfile_text: str, error: str, builder: str) -> str:
    """Why a build failed when it is a limit of this engine rather than of the Dockerfile."""
    lines = dockerfile_text.splitlines()
    syntax = any(line.replace(" ", "").lower().startswith("#syntax=") for line in lines[:5])
    if syntax and ("frontend" in error or "docker/dockerfile" in error):
        return (
            "hint: `# syntax=` makes BuildKit fetch that Dockerfile frontend image from a "
            "registry, which this engine cannot reach; remove the line to use the engine's "
            "built-in frontend (it supports RUN --mount, not heredocs on Docker 20.10)"
        )
    heredoc = any("<<" in line and line.lstrip().upper().startswith(("RUN", "COPY"))
                  for line in lines)
    if heredoc and ("unknown instruction" in error or "parse error" in error):
        return (
            "hint: heredocs (`RUN <<EOF`) need a newer Dockerfile frontend than this engine's "
            "built-in one, and `# syntax=docker/dockerfile:1.4` needs a registry to fetch it; "
            "write the commands on RUN lines (joined with &&) or use a script file in the context"
        )
    if builder == LEGACY and "--mount" in dockerfile_text and "mount" in error:
        return (
            "hint: the legacy builder has no RUN --mount; unset LOCALSVC_BUILDER=legacy or use "
            "an engine with BuildKit"
        )
    return ""


def _tar_info(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Owned by root, as the docker CLI sends it (the build's cache keys include owners)."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = int(info.mtime)
    return info


@contextmanager
def context_tar(context_dir: Path, dockerfile: str = "Dockerfile") -> Iterator[IO[bytes]]:
    """The build context as an uncompressed tar (a temporary file: contexts can be large)."""
    root = Path(context_dir)
    with tempfile.TemporaryFile() as handle:
        # GNU format: BuildKit sniffs the body for a tar header, and a leading PAX extended
        # header makes it read the whole body as the Dockerfile.
        with tarfile.open(fileobj=handle, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for rel in context_entries(root, dockerfile):
                tar.add(str(root / rel), arcname=rel, recursive=False, filter=_tar_info)
        handle.seek(0)
        yield handle


def build_image(
    client: docker.DockerClient,
    context_dir: Path,
    tag: str,
    progress: Progress,
    *,
    dockerfile: str = "Dockerfile",
    buildargs: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    target: str | None = None,
) -> str:
    """`docker build` `context_dir` as `tag`; progress lines go to `progress`. Returns `tag`.

    Raises ImageError with the whole build log (and a hint when one applies) on failure.
    """
    dockerfile_file = Path(context_dir) / dockerfile
    if not dockerfile_file.is_file():
        raise ImageError(f"cannot build {tag}: no {dockerfile} in {context_dir}")
    with engine_errors(f"asking the engine for its version before building {tag}"):
        builder, why = choose_builder(os.environ, client.version())
    mode = buildkit.progress_mode(os.environ, sys.stderr.isatty())
    display = buildkit.BuildDisplay(progress, mode)
    params = buildkit.build_params(tag, dockerfile, buildargs or {}, labels or {}, target)
    with engine_errors(f"building image {tag}"), context_tar(Path(context_dir), dockerfile) as tar:
        messages: Iterable[dict[str, Any]] | None = None
        if builder == BUILDKIT:
            try:
                messages = buildkit.post_build(client, tar, params)
            except docker.errors.APIError as err:
                reason = first_line(str(err.explanation or err))
                builder, why = LEGACY, f"the engine refused BuildKit: {reason}"
                tar.seek(0)
        progress(f"building {tag} from {context_dir} with {_named(builder)} ({why})")
        if messages is None:
            # Without `version` the engine uses its classic builder (Podman: Buildah).
            params.pop("version")
            messages = buildkit.post_build(client, tar, params)
        result = buildkit.follow_stream(_legacy_steps(messages, progress, mode), display)
    if result.error is not None:
        hint = build_hint(dockerfile_file.read_text(errors="replace"), result.error, builder)
        log = "\n".join(display.log)
        raise ImageError(
            f"building image {tag} with {_named(builder)} failed: {result.error.strip()}\n"
            f"--- build log ---\n{log}" + (f"\n{hint}" if hint else "")
        )
    if not image_exists(client, tag):
        raise ImageError(f"building image {tag} reported success but the image is missing")
    return tag


def _named(builder: str) -> str:
    return f"the {builder}" if builder == LEGACY else builder


def _legacy_steps(
    messages: Iterable[dict[str, Any]], progress: Progress, mode: str
) -> Iterator[dict[str, Any]]:
    """Pass messages on; on a terminal, show only the legacy builder's `Step N/M` lines (plain
    mode shows every line through the display already)."""
    for message in messages:
        text = message.get("stream")
        if mode == "tty" and isinstance(text, str):
            for line in text.splitlines():
                if line.lower().startswith("step "):  # Docker's `Step 1/3`, Buildah's `STEP 1/3`
                    progress(" ".join(line.split())[:160])
        yield message


def context_hash(context_dir: Path, dockerfile: str = "Dockerfile") -> str:
    """A hash of what a build of `context_dir` sends (paths, bytes, executable bits, symlink
    targets; .dockerignore honoured), to skip builds that would change nothing."""
    digest = hashlib.sha256()
    root = Path(context_dir)
    for rel in context_files(root, dockerfile):
        path = root / rel
        if path.is_symlink():
            content = b"symlink:" + os.readlink(path).encode()
        else:
            content = (b"x" if os.access(path, os.X_OK) else b"-") + path.read_bytes()
        digest.update(rel.encode() + b"\0" + len(content).to_bytes(8, "big") + content)
    digest.update(dockerfile.encode())
    return digest.hexdigest()[:16]


def build_key(context_dir: Path, dockerfile: str, args: Mapping[str, str] | None,
              target: str | None) -> str:
    """The content label of an image built from this context, build args and target."""
    digest = hashlib.sha256(context_hash(context_dir, dockerfile).encode())
    digest.update(repr((sorted((args or {}).items()), target)).encode())
    return digest.hexdigest()[:16]


def build_if_changed(
    client: docker.DockerClient,
    context_dir: Path,
    tag: str,
    progress: Progress,
    *,
    dockerfile: str = "Dockerfile",
    args: Mapping[str, str] | None = None,
    target: str | None = None,
) -> bool:
    """Build `context_dir` as `tag` unless an image of that tag was built from the same content,
    build args and target (a label records their hash). Returns whether it built.

    A Dockerfile with `ARG BASE` (`FROM ${BASE}`) gets the local Python base, pulled or built
    with debootstrap, so it builds where no registry is reachable."""
    key = build_key(context_dir, dockerfile, args, target)
    with engine_errors(f"inspecting image {tag}"):
        try:
            if client.images.get(tag).labels.get(CONTENT_LABEL) == key:
                return False
        except docker.errors.ImageNotFound:
            pass
    buildargs = dict(args or {})
    dockerfile_text = (Path(context_dir) / dockerfile).read_text(errors="replace")
    if "BASE" not in buildargs and "ARG BASE" in dockerfile_text:
        buildargs["BASE"] = ensure_base_image(client, progress)
    build_image(client, Path(context_dir), tag, progress, dockerfile=dockerfile,
                buildargs=buildargs, labels={CONTENT_LABEL: key}, target=target)
    return True


def ensure_context_image(
    client: docker.DockerClient, context_dir: Path, tag: str, progress: Progress
) -> str:
    """`tag`, built from `context_dir` when missing or out of date (see build_if_changed)."""
    build_if_changed(client, context_dir, tag, progress)
    return tag
