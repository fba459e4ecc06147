"""The dashboard page's pure JavaScript (layout, scene, endpoint history, rates, probe results,
command strings: localsvc/host/dashboard/static/) under node's built-in test runner
(tests/js/*.test.mjs). No browser needed; the browser behaviour is tests/browser's.

Node is not on a bare Debian machine: CI installs Debian's `nodejs` (18 or later is enough);
elsewhere, a machine without node skips this test with that reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).resolve().parents[1] / "js"


def test_dashboard_javascript_passes_its_node_tests() -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is missing: CI must install Debian's nodejs for tests/js")
        pytest.skip("node is not installed (apt-get install nodejs) for tests/js")
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.mjs"))
    assert files, f"no *.test.mjs under {JS_TESTS}"
    result = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=60,
                            cwd=JS_TESTS, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
