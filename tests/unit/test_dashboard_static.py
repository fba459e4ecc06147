"""The dashboard's page ships inside the package: the installed package (the editable install of
the test run) has static/index.html, and a wheel built from the sources carries every file of
static/ byte for byte."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from localsvc.host.dashboard.server import static_dir

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "localsvc" / "host" / "dashboard" / "static"


def test_the_installed_package_has_the_page() -> None:
    index = static_dir() / "index.html"
    assert index.is_file(), index
    assert "<html" in index.read_text(encoding="utf-8")


def test_the_wheel_carries_every_static_file(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                             "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    [wheel] = tmp_path.glob("localsvc-*.whl")
    expected = {f"localsvc/host/dashboard/static/{p.relative_to(SOURCES).as_posix()}": p
                for p in SOURCES.rglob("*") if p.is_file()}
    assert "localsvc/host/dashboard/static/index.html" in expected
    with zipfile.ZipFile(wheel) as archive:
        for name, source in expected.items():
            assert archive.read(name) == source.read_bytes(), name
