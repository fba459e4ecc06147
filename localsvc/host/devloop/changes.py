"""What a batch of file changes means (pure): re-apply manifests, sync files into containers,
or rebuild an image and roll its pods."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from localsvc.model.load import MANIFEST_SUFFIXES
from localsvc.model.project import ImageBuild, Project, SyncRule


@dataclass
class ChangePlan:
    reapply: bool = False
    project_file: bool = False  # localsvc.yaml itself changed: restart `up` to take it in
    syncs: list[tuple[ImageBuild, SyncRule, list[Path]]] = field(default_factory=list)
    rebuilds: list[ImageBuild] = field(default_factory=list)


def _relative_parts(path: Path, root: Path) -> tuple[str, ...] | None:
    """The parts of `path` below `root` (both with symlinks resolved), None when not below."""
    try:
        return path.resolve().relative_to(root.resolve()).parts
    except ValueError:
        return None


def is_manifest(path: Path, manifest_roots: Sequence[Path]) -> bool:
    """Whether `path` is a file `load_manifests` reads for these roots: a root named as a file,
    or a file below a root directory with a manifest suffix in any case (`x.YAML` too), and
    neither it nor a directory on the way hidden (as load.find_manifest_files walks)."""
    for root in manifest_roots:
        if root.is_dir() or not root.suffix:
            parts = _relative_parts(path, root)
            if parts and not any(part.startswith(".") for part in parts) \
                    and path.suffix.lower() in MANIFEST_SUFFIXES:
                return True
        elif path.resolve() == root.resolve():
            return True
    return False


def plan_changes(changed: Iterable[Path], manifest_roots: Sequence[Path],
                 project: Project | None) -> ChangePlan:
    """What one batch of changed paths asks for. localsvc.yaml only asks for a restart; a
    manifest, for a re-apply; files of one image, for a copy into its containers when one sync
    rule covers them all, else for a rebuild of that image. Other paths ask for nothing."""
    plan = ChangePlan()
    per_image: dict[str, tuple[ImageBuild, list[Path]]] = {}
    for path in changed:
        if project is not None and path.resolve() == project.path.resolve():
            plan.project_file = True
            continue
        if is_manifest(path, manifest_roots):
            plan.reapply = True
            continue
        image = project.image_for(path) if project is not None else None
        if image is not None:
            per_image.setdefault(image.name, (image, []))[1].append(path)
    for image, files in per_image.values():
        assert project is not None
        rules = {project.sync_rule_for(image, f) for f in files}
        if len(rules) == 1 and None not in rules:
            rule = next(iter(rules))
            assert rule is not None
            plan.syncs.append((image, rule, files))
        else:
            plan.rebuilds.append(image)
    return plan
