"""The dashboard page's pure JavaScript (layout and scene, endpoint history, connection rates,
probe results, command strings: localsvc/host/dashboard/static/) against tests/js/*.test.mjs.

They are written for node's built-in test runner and run under node where it is installed.
Node is not on a bare Debian machine, Chromium is wherever the browser tests run (CI installs
it), so the same files also run in headless Chromium: tests/js/run.html maps node:test and
node:assert/strict to small shims. Each runtime present is one case; with neither, CI fails
and a developer's machine skips."""

from __future__ import annotations

import html
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = ROOT / "tests" / "js"
FILES = sorted(p.name for p in JS_TESTS.glob("*.test.mjs"))
TIMEOUT = 60


def node() -> str | None:
    return shutil.which("node") or shutil.which("nodejs")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


RUNTIMES = [name for name, found in (("node", node), ("chromium", chromium)) if found()]


def test_there_are_javascript_tests() -> None:
    assert len(FILES) >= 5, FILES


def run_node() -> None:
    exe = node()
    assert exe is not None
    result = subprocess.run([exe, "--test", *FILES], capture_output=True, text=True,
                            timeout=TIMEOUT, cwd=JS_TESTS, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"^# fail 0$", result.stdout, re.M), result.stdout[-3000:]


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """The repository's files (the page's modules and tests/js), as a browser needs them."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(ROOT), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture
def served() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietFiles)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_chromium(base: str) -> None:
    exe = chromium()
    assert exe is not None
    url = f"{base}/tests/js/run.html?" + urlencode([("file", f) for f in FILES])
    # --no-sandbox only because tests run as root (CI does); this browser opens our page only.
    result = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--no-first-run",
                             "--disable-background-networking", "--virtual-time-budget=20000",
                             "--dump-dom", url],
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    found = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert found, f"no result in the page:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    text = html.unescape(found.group(1))
    assert text != "running", "the tests did not finish within the page's time budget"
    results = json.loads(text)
    failed = [r for r in results if not r["ok"]]
    assert not failed, "\n\n".join(f"{r.get('file')}: {r['name']}\n{r.get('error')}"
                                   for r in failed)
    declared = sum(len(re.findall(r"^test\(", (JS_TESTS / f).read_text(), re.M)) for f in FILES)
    assert len(results) == declared, f"ran {len(results)} of the {declared} tests"


@pytest.mark.parametrize("runtime", RUNTIMES or ["none"])
def test_dashboard_javascript(runtime: str, request: pytest.FixtureRequest) -> None:
    if runtime == "none":
        if os.environ.get("CI"):
            pytest.fail("neither node nor chromium is installed: scripts/setup installs "
                        "Debian's chromium for the browser tests, which tests/js needs too")
        pytest.skip("neither node nor chromium is installed (apt-get install nodejs)")
    if runtime == "node":
        run_node()
    else:
        run_chromium(request.getfixturevalue("served"))
