"""The pure parts of the kubectl tests' scaffolding (tests/net/kubectl_server.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.net.kubectl_server import (
    requires_kubectl,
    run_kubectl,
    split_resource_path,
    write_kubeconfig,
)


@pytest.mark.parametrize(("path", "split"), [
    ("/api/v1/pods", ("", "v1", None, ["pods"])),
    ("/api/v1/namespaces/default/pods/web", ("", "v1", "default", ["pods", "web"])),
    ("/api/v1/namespaces/default", ("", "v1", None, ["namespaces", "default"])),
    ("/apis/apps/v1/namespaces/x/deployments", ("apps", "v1", "x", ["deployments"])),
    ("/apis/apps/v1/deployments/", ("apps", "v1", None, ["deployments"])),
])
def test_split_resource_path(path: str, split: tuple[str, str, str | None, list[str]]) -> None:
    assert split_resource_path(path) == split


@requires_kubectl
@pytest.mark.parametrize("namespace", [None, "default"])
def test_kubectl_reads_the_kubeconfig(tmp_path: Path, namespace: str | None) -> None:
    kubeconfig = write_kubeconfig(tmp_path, 40123, namespace)
    done = run_kubectl(kubeconfig, tmp_path, "config", "view", "-o", "json", timeout=30)
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["current-context"] == "test"
    assert view["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:40123"
    assert view["contexts"][0]["context"].get("namespace") == namespace
