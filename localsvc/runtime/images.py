"""The images localsvc runs, found or built on the local Docker engine without a registry.

This module owns:

- the *base image*: Debian bookworm with Python 3.11. Pulled as ``python:3.11-slim-bookworm``
  when a registry is reachable, otherwise built once with ``debootstrap`` and imported as
  ``localsvc/debian-python:bookworm-<hash>``;
- the *node image* (``localsvc/node:<version>-<hash>``): the top-level Dockerfile on that base,
  with the dependency wheels downloaded on the host (containers may not reach PyPI) and a copy
  of the installed ``localsvc`` package. Its tag hashes everything that goes into it, so an
  existing tag is reused as is;
- ``build_image``: the one way localsvc runs ``docker build`` (node, example and app images),
  streaming the step lines to a progress callback and failing with the tail of the build log.

Environment: ``LOCALSVC_NODE_IMAGE`` (use this node image instead), ``LOCALSVC_OFFLINE=1``
(never try a pull), ``LOCALSVC_DEBIAN_MIRROR`` (debootstrap mirror).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

import localsvc
from localsvc.errors import EngineError, ImageError

Progress = Callable[[str], None]

PYTHON_IMAGE = "python:3.11-slim-bookworm"
BASE_REPOSITORY = "localsvc/debian-python"
NODE_REPOSITORY = "localsvc/node"
NODE_LABEL = "io.localsvc.image"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
BUILD_LOG_TAIL = 30
PACKAGE_NAME = "localsvc"
EXTRA_REQUIREMENTS = ("uvloop",)  # the `fast` extra: always in the node image
_HASH_LEN = 12
_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")
_HINT = (
    "Run scripts/provision-docker as root (installs debootstrap and Docker), or make a registry "
    f"reachable so that {PYTHON_IMAGE} can be pulled, or set LOCALSVC_NODE_IMAGE to an image "
    "that is already on this engine."
)


# --------------------------------------------------------------------------- engine helpers


@contextmanager
def _engine(action: str) -> Iterator[None]:
    """Translate Docker SDK errors raised while doing `action` into localsvc errors."""
    try:
        yield
    except docker.errors.APIError as err:
        raise ImageError(f"{action}: {err.explanation or err}") from err
    except (docker.errors.DockerException, requests.exceptions.RequestException) as err:
        raise EngineError(f"{action}: cannot talk to the Docker engine: {err}") from err


def _image_exists(client: docker.DockerClient, ref: str) -> bool:
    with _engine(f"looking up image {ref}"):
        try:
            client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
    return True


def _try_pull(client: docker.DockerClient, ref: str, progress: Progress) -> bool:
    """Pull `ref`; any failure means "no registry here" and is reported in one line."""
    repository, _, tag = ref.rpartition(":")
    progress(f"pulling {ref}")
    try:
        client.images.pull(repository, tag=tag)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as err:
        reason = getattr(err, "explanation", None) or str(err)
        progress(f"cannot pull {ref} (no registry reachable?): {_first_line(reason)}")
        return False
    progress(f"pulled {ref}")
    return True


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def _offline() -> bool:
    return os.environ.get("LOCALSVC_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def _short_hash(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:_HASH_LEN]


# --------------------------------------------------------------------------- base image


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
        return f"{BASE_REPOSITORY}:{self.suite}-{_short_hash(p.encode() for p in parts)}"

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
        if _image_exists(client, ref):
            return ref
    if not _offline() and _try_pull(client, PYTHON_IMAGE, progress):
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
    with _temp_dir("localsvc-base-") as workdir:
        rootfs = workdir / "rootfs"
        _debootstrap(spec, rootfs)
        _slim_rootfs(rootfs)
        _import_rootfs(client, rootfs, workdir / "rootfs.tar", tag)
    progress(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _debootstrap(spec: BaseSpec, rootfs: Path) -> None:
    rootfs.mkdir()
    result = subprocess.run(
        spec.debootstrap_args(rootfs),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-BUILD_LOG_TAIL:])
        raise ImageError(
            f"debootstrap failed (exit {result.returncode}) with mirror {spec.mirror} "
            f"(set LOCALSVC_DEBIAN_MIRROR to use another):\n{tail}"
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
    with _engine(f"importing the Debian base image as {tag}"):
        client.api.import_image(src=str(tarball), repository=repository, tag=name, changes=changes)
    if not _image_exists(client, tag):
        raise ImageError(f"importing the Debian base image did not produce {tag}")


@contextmanager
def _temp_dir(prefix: str) -> Iterator[Path]:
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


# --------------------------------------------------------------------------- node image


def package_dir() -> Path:
    """The directory of the imported `localsvc` package (installed or source checkout)."""
    return Path(localsvc.__file__).resolve().parent


def dockerfile_path(pkg: Path | None = None) -> Path:
    """The node Dockerfile: packaged as localsvc/_data/Dockerfile, or at the checkout's root."""
    pkg = pkg or package_dir()
    for candidate in (pkg / "_data" / "Dockerfile", pkg.parent / "Dockerfile"):
        if candidate.is_file():
            return candidate
    raise ImageError(
        f"the node image's Dockerfile is missing: looked for {pkg / '_data' / 'Dockerfile'} and "
        f"{pkg.parent / 'Dockerfile'}; reinstall localsvc"
    )


def package_files(pkg: Path) -> list[Path]:
    """Every file of the package, sorted, without bytecode caches."""
    found: list[Path] = []
    for root, dirs, files in os.walk(pkg):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        found.extend(Path(root) / f for f in files if not f.endswith(_SKIP_SUFFIXES))
    return sorted(found, key=lambda p: p.relative_to(pkg).as_posix())


def parse_requirements(requires: Iterable[str], extras: Sequence[str] = ()) -> list[str]:
    """Requirement strings of the given metadata `Requires-Dist` lines, minus extra-only ones.

    A requirement whose marker names an extra is kept only when its name is listed in `extras`
    (e.g. ``uvloop<1,>=0.19; extra == "fast"`` is kept for extras=("uvloop",)); names of `extras`
    that no line mentions are added bare.
    """
    wanted = {_canonical(e) for e in extras}
    result: list[str] = []
    for line in requires:
        spec, _, marker = line.partition(";")
        spec = spec.strip()
        if not spec:
            continue
        if "extra" in marker and _canonical(_requirement_name(spec)) not in wanted:
            continue
        result.append(spec if "extra" in marker else line.strip())
    present = {_canonical(_requirement_name(r)) for r in result}
    result.extend(e for e in extras if _canonical(e) not in present)
    return _dedupe(result)


def _requirement_name(spec: str) -> str:
    for i, char in enumerate(spec):
        if not (char.isalnum() or char in "-_."):
            return spec[:i]
    return spec


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def pyproject_requires(pyproject: Path) -> list[str]:
    """The `[project]` dependencies of a pyproject.toml as metadata-style Requires-Dist lines."""
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project.get("dependencies", []))
    for extra, deps in project.get("optional-dependencies", {}).items():
        lines.extend(f'{dep}; extra == "{extra}"' for dep in deps)
    return lines


def node_requirements(pkg: Path | None = None) -> list[str]:
    """What the node image's venv installs: localsvc's own dependencies plus uvloop.

    A source checkout (pyproject.toml beside the package) is its own truth; an installed
    package is read from its metadata.
    """
    pkg = pkg or package_dir()
    pyproject = pkg.parent / "pyproject.toml"
    if pyproject.is_file() and (pkg.parent / "Dockerfile").is_file():
        return parse_requirements(pyproject_requires(pyproject), EXTRA_REQUIREMENTS)
    try:
        requires = importlib.metadata.requires(PACKAGE_NAME) or []
    except importlib.metadata.PackageNotFoundError as err:
        raise ImageError(
            f"cannot tell localsvc's dependencies: no installed metadata and no pyproject.toml "
            f"beside {pkg}; install localsvc with pip"
        ) from err
    return parse_requirements(requires, EXTRA_REQUIREMENTS)


def compute_node_tag(
    version: str, dockerfile: bytes, files: Iterable[tuple[str, bytes]], requirements: Sequence[str]
) -> str:
    """The node image tag for this content: `localsvc/node:<version>-<12 hex>`."""

    def parts() -> Iterator[bytes]:
        yield b"dockerfile"
        yield dockerfile
        for relpath, data in files:
            yield relpath.encode()
            yield data
        yield b"requirements"
        yield "\n".join(requirements).encode()

    return f"{NODE_REPOSITORY}:{version}-{_short_hash(parts())}"


def node_image_tag() -> str:
    """The tag of the node image for the imported localsvc package (content-addressed)."""
    pkg = package_dir()
    files = ((p.relative_to(pkg).as_posix(), p.read_bytes()) for p in package_files(pkg))
    return compute_node_tag(
        localsvc.__version__, dockerfile_path(pkg).read_bytes(), files, node_requirements(pkg)
    )


def ensure_node_image(client: docker.DockerClient, progress: Progress) -> str:
    """Return the node image to run: LOCALSVC_NODE_IMAGE, an existing build, or a new build."""
    override = os.environ.get("LOCALSVC_NODE_IMAGE", "").strip()
    if override:
        return _ensure_override(client, override, progress)
    tag = node_image_tag()
    if _image_exists(client, tag):
        return tag
    base = ensure_base_image(client, progress)
    progress(f"building node image {tag} on {base} (once per localsvc version)")
    started = time.monotonic()
    with _temp_dir("localsvc-node-") as context:
        _prepare_node_context(context, progress)
        build_image(
            client,
            context,
            tag,
            progress,
            buildargs={"BASE": base},
            labels={NODE_LABEL: "node", "io.localsvc.version": localsvc.__version__},
        )
    progress(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _ensure_override(client: docker.DockerClient, ref: str, progress: Progress) -> str:
    if _image_exists(client, ref):
        return ref
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref = f"{ref}:latest"
        if _image_exists(client, ref):
            return ref
    if not _offline() and _try_pull(client, ref, progress):
        return ref
    raise ImageError(
        f"LOCALSVC_NODE_IMAGE={ref} is not on this Docker engine and cannot be pulled; build it "
        f"(docker build -t {ref} . at the localsvc checkout) or unset LOCALSVC_NODE_IMAGE"
    )


def _prepare_node_context(context: Path, progress: Progress) -> None:
    """Fill a build context: Dockerfile, localsvc/ (no caches), wheels/ + requirements.txt."""
    pkg = package_dir()
    shutil.copyfile(dockerfile_path(pkg), context / "Dockerfile")
    shutil.copytree(
        pkg, context / PACKAGE_NAME, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    )
    requirements = node_requirements(pkg)
    wheels = download_wheels(requirements, progress)
    shutil.copytree(wheels, context / "wheels")
    (context / "wheels" / "requirements.txt").write_text("\n".join(requirements) + "\n")


# --------------------------------------------------------------------------- wheels


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
    key = _short_hash(s.encode() for s in [*requirements, "cp311", *platforms])
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
    result = subprocess.run(
        pip_download_args(requirements, dest),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-BUILD_LOG_TAIL:])
        raise ImageError(
            "downloading the node image's Python wheels on the host failed (is PyPI or a pip "
            f"index reachable from this machine?):\n{tail}"
        )


# --------------------------------------------------------------------------- docker build


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
    """`docker build` `context_dir` as `tag`; step lines go to `progress`. Returns `tag`.

    Raises ImageError with the last lines of the build log when the build fails.
    """
    if not (Path(context_dir) / dockerfile).is_file():
        raise ImageError(f"cannot build {tag}: no {dockerfile} in {context_dir}")
    log: deque[str] = deque(maxlen=BUILD_LOG_TAIL)
    with _engine(f"building image {tag}"):
        stream = client.api.build(
            path=str(context_dir),
            dockerfile=dockerfile,
            tag=tag,
            buildargs=dict(buildargs or {}),
            labels=dict(labels or {}),
            target=target,
            decode=True,
            rm=True,
            forcerm=True,
        )
        error = _follow_build(stream, log, progress)
    if error is not None:
        tail = "\n".join(log)
        raise ImageError(
            f"building image {tag} failed: {error}\n--- last lines of the build ---\n{tail}"
        )
    if not _image_exists(client, tag):
        raise ImageError(f"building image {tag} reported success but the image is missing")
    return tag


def _follow_build(
    stream: Iterable[dict[str, Any]], log: deque[str], progress: Progress
) -> str | None:
    """Consume the build's JSON stream; returns the error message, or None on success."""
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            message = str(chunk.get("error") or detail.get("message") or "unknown error")
            log.append(message.rstrip())
            return message.strip()
        text = chunk.get("stream")
        if not isinstance(text, str):
            continue
        for line in text.splitlines():
            if line.strip():
                log.append(line.rstrip())
            if line.startswith("Step "):
                progress(" ".join(line.split())[:160])
    return None


CONTENT_LABEL = "io.localsvc.content"


def context_hash(context_dir: Path, dockerfile: str = "Dockerfile") -> str:
    """A hash of every file of a build context (path + bytes), to skip builds that would change
    nothing."""
    digest = hashlib.sha256()
    root = Path(context_dir)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(dockerfile.encode())
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
    digest = hashlib.sha256(context_hash(context_dir, dockerfile).encode())
    digest.update(repr((sorted((args or {}).items()), target)).encode())
    key = digest.hexdigest()[:16]
    with _engine(f"inspecting image {tag}"):
        try:
            if client.images.get(tag).labels.get(CONTENT_LABEL) == key:
                return False
        except docker.errors.ImageNotFound:
            pass
    buildargs = dict(args or {})
    if "BASE" not in buildargs and "ARG BASE" in (Path(context_dir) / dockerfile).read_text(
            errors="replace"):
        buildargs["BASE"] = ensure_base_image(client, progress)
    progress(f"building image {tag} from {context_dir}")
    build_image(client, Path(context_dir), tag, progress, dockerfile=dockerfile,
                buildargs=buildargs, labels={CONTENT_LABEL: key}, target=target)
    return True


def ensure_context_image(
    client: docker.DockerClient, context_dir: Path, tag: str, progress: Progress
) -> str:
    """`tag`, built from `context_dir` when missing or out of date (see build_if_changed)."""
    build_if_changed(client, context_dir, tag, progress)
    return tag
