"""The import contracts of pyproject.toml ([tool.importlinter]) hold for the package as it is.

scripts/test runs `lint-imports` too; this test keeps the layering checked when only pytest runs.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)


def test_the_layers_and_a_pure_model_are_declared() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = {c["type"]: c for c in config["contracts"]}
    assert contracts["layers"]["layers"][:2] == ["host", "node"]
    assert contracts["layers"]["layers"][-2] == "model"
    assert contracts["forbidden"]["source_modules"] == ["localsvc.model"]
    assert {"docker", "aiohttp", "socket", "subprocess"} <= set(
        contracts["forbidden"]["forbidden_modules"])


def test_lint_imports_keeps_every_contract() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
