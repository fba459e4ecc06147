"""Every manifest shipped under examples/ loads and validates cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from localsvc.api import load_manifests

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
