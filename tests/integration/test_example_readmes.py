"""The commands of an example's README run as written (the shell block under "Run it")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from localsvc.host.api import Environment
from tests.integration.conftest import ROOT, unique_env


def run_it_block(readme: Path) -> str:
    """The first ```sh block after the "## Run it" heading."""
    text = readme.read_text()
    section = text.split("## Run it", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, f"{readme}: no sh block under 'Run it'"
    return match.group(1)


def test_backend_service_readme_commands_run_as_written(node_image: str, demo_image: str) -> None:
    script = run_it_block(ROOT / "examples" / "backend-service" / "README.md")
    # The README's environment name, made unique so that parallel runs do not meet.
    name = unique_env("bsreadme")
    script = script.replace("--env backend ", f"--env {name} ").replace(
        "LOCALSVC_ENV=backend ", f"LOCALSVC_ENV={name} ")
    assert name in script
    # Wait for the three backends before the scale step; -d already waits for Ready.
    bindir = str(Path(sys.executable).parent)
    environ = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
    environ.pop("LOCALSVC_ENV", None)
    try:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=environ,
                                capture_output=True, text=True, timeout=240)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        assert len(re.findall(r"backend-\w+-\w+ +1/1 +Running", out)) == 3, out
        assert "backend-service" in out and "ClusterIP" in out, out
        assert re.search(r"hello from backend-\S+", out), out
        assert re.search(r"backend-service\.default\.svc\.cluster\.local\.?\s.*\bA\b", out), out
    finally:
        Environment(name).down()
    assert not Environment(name).exists()
