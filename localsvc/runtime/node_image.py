"""The node image (``localsvc/node:<version>-<hash>``): the top-level Dockerfile on the base
image, with the dependency wheels downloaded on the host (containers may not reach PyPI) and a
copy of the installed ``localsvc`` package. Its tag hashes everything that goes into it, so an
existing tag is reused as is. ``LOCALSVC_NODE_IMAGE`` names an image to use instead.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import time
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import docker

from localsvc.version import __version__
from localsvc.errors import ImageError
from localsvc.runtime.base_image import ensure_base_image
from localsvc.runtime.image_build import build_image
from localsvc.runtime.image_common import (
    NODE_LABEL,
    Progress,
    image_exists,
    offline,
    short_hash,
    temp_dir,
    try_pull,
)
from localsvc.runtime.wheels import download_wheels

NODE_REPOSITORY = "localsvc/node"
PACKAGE_NAME = "localsvc"
EXTRA_REQUIREMENTS = ("uvloop",)  # the `fast` extra: always in the node image
_SKIP_DIRS = frozenset({"__pycache__"})
_SKIP_SUFFIXES = (".pyc", ".pyo")


def package_dir() -> Path:
    """The directory of the imported `localsvc` package (installed or source checkout)."""
    return Path(__file__).resolve().parent.parent  # localsvc/runtime/node_image.py


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

    return f"{NODE_REPOSITORY}:{version}-{short_hash(parts())}"


def node_image_tag() -> str:
    """The tag of the node image for the imported localsvc package (content-addressed)."""
    pkg = package_dir()
    files = ((p.relative_to(pkg).as_posix(), p.read_bytes()) for p in package_files(pkg))
    return compute_node_tag(
        __version__, dockerfile_path(pkg).read_bytes(), files, node_requirements(pkg)
    )


def ensure_node_image(client: docker.DockerClient, progress: Progress) -> str:
    """Return the node image to run: LOCALSVC_NODE_IMAGE, an existing build, or a new build."""
    override = os.environ.get("LOCALSVC_NODE_IMAGE", "").strip()
    if override:
        return _ensure_override(client, override, progress)
    tag = node_image_tag()
    if image_exists(client, tag):
        return tag
    base = ensure_base_image(client, progress)
    progress(f"building node image {tag} on {base} (once per localsvc version)")
    started = time.monotonic()
    with temp_dir("localsvc-node-") as context:
        _prepare_node_context(context, progress)
        build_image(
            client,
            context,
            tag,
            progress,
            buildargs={"BASE": base},
            labels={NODE_LABEL: "node", "io.localsvc.version": __version__},
        )
    progress(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def _ensure_override(client: docker.DockerClient, ref: str, progress: Progress) -> str:
    if image_exists(client, ref):
        return ref
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref = f"{ref}:latest"
        if image_exists(client, ref):
            return ref
    if not offline() and try_pull(client, ref, progress):
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
