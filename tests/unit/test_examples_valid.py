"""Every manifest shipped under examples/ loads and validates cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from localsvc.host.api import load_manifests
from localsvc.model.fields import unknown_fields
from localsvc.model.load import load_paths

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    "directory",
    sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and p.name not in ("images", "ci")),
    ids=lambda p: p.name,
)
def test_example_manifests_are_valid(directory: Path) -> None:
    # Examples with a localsvc.yaml or a docker-compose.yaml keep their manifests in k8s/.
    if (directory / "k8s").is_dir():
        directory = directory / "k8s"
    loaded = load_manifests([directory])
    assert loaded.manifests
    assert not loaded.skipped


def test_no_example_has_an_unknown_field() -> None:
    # Said apart from the test above: a typo in an example would teach it to every reader.
    manifests = [
        m
        for directory in sorted(EXAMPLES.glob("*/k8s")) + sorted(EXAMPLES.glob("*/*.yaml"))
        for m in load_paths([directory]).manifests
    ]
    assert len(manifests) > 10
    assert [(m.file, u.path) for m in manifests for u in unknown_fields(m.kind, m.obj)] == []
