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


def _under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def is_manifest(path: Path, manifest_roots: Sequence[Path]) -> bool:
    for root in manifest_roots:
        if root.is_dir() or not root.suffix:
            if _under(path, root) and path.suffix in MANIFEST_SUFFIXES and not path.name.startswith("."):
                return True
        elif path.resolve() == root.resolve():
            return True
    return False


def plan_changes(changed: Iterable[Path], manifest_roots: Sequence[Path],
                 project: Project | None) -> ChangePlan:
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
