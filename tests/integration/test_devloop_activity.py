"""The foreground dev loop's steps as Events, seen through kubectl as any cluster Event: a
manifest edit is FileChanged then Applied (with its duration, about the object it changed), a
bad edit is an ApplyFailed Warning; all from the component localsvc-devloop."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from localsvc.host.api import Environment
from tests.integration.conftest import wait_for
from tests.integration.kubectl_support import Kubectl, write_kubeconfig
from tests.integration.test_devloop import WEB, Foreground, env_name

__all__ = ["env_name"]  # the fixture, used below


def devloop_events(kubectl: Kubectl) -> list[dict[str, Any]]:
    listed = kubectl.json("get", "events", "-A", "--field-selector", "source=localsvc-devloop")
    return sorted(listed["items"], key=lambda e: e["metadata"]["name"].rsplit(".", 1)[1])


def test_manifest_edit_is_recorded_as_events(env_name: str, tmp_path: Path) -> None:
    manifest = tmp_path / "app.yaml"
    manifest.write_text(WEB.replace("replicas: 2", "replicas: 1"))
    up = Foreground(env_name, tmp_path, "-f", "app.yaml")
    try:
        up.wait_err("Ctrl-C stops it")
        kubectl = Kubectl(Environment(env_name), write_kubeconfig(Environment(env_name), tmp_path))
        assert devloop_events(kubectl) == []  # the first apply is `up`'s own, not a step

        one = WEB.replace("replicas: 2", "replicas: 1")
        manifest.write_text(one.replace("port: 81,", "port: 82,"))
        up.wait_err("service/extra configured")
        events = wait_for(lambda: [e for e in devloop_events(kubectl)
                                   if e["reason"] == "Applied"], timeout=10, what="Applied")
        [applied] = events
        assert re.fullmatch(r"applied app\.yaml in \d+\.\d s: service/extra configured",
                            applied["message"]), applied["message"]
        assert applied["type"] == "Normal"
        assert applied["involvedObject"]["kind"] == "Service"
        assert applied["involvedObject"]["name"] == "extra"
        assert applied["reportingComponent"] == "localsvc-devloop"
        changed = [e for e in devloop_events(kubectl) if e["reason"] == "FileChanged"]
        assert changed and changed[0]["message"] == "changed: app.yaml"

        # kubectl's own table shows them with their component (-o wide: SOURCE).
        table = kubectl.out("get", "events", "-o", "wide", "--field-selector", "reason=Applied")
        assert "localsvc-devloop" in table and "service/extra configured" in table

        manifest.write_text(WEB.replace("replicas: 2", "replicas: -3"))
        up.wait_err("spec.replicas: must be greater than or equal to 0")
        failed = wait_for(lambda: [e for e in devloop_events(kubectl)
                                   if e["reason"] == "ApplyFailed"], timeout=10, what="ApplyFailed")
        assert failed[0]["type"] == "Warning"
        assert re.match(r"app\.yaml not applied \(\d+\.\d s\): .*spec\.replicas",
                        failed[0]["message"], re.S), failed[0]["message"]
    finally:
        assert up.stop() == 0
