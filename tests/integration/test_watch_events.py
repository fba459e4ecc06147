"""The node's object store through its API: a list gives a resourceVersion, the events after it
show a scale-up (the new pod, then its endpoint), a watcher resumes where it left, and after a
node restart versions keep growing while a version from before the restart is too old (410)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from localsvc.host.api import Environment
from localsvc.errors import NodeError
from tests.integration.conftest import DEMO_IMAGE, write

APP = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
"""


def _addresses(endpoints: dict[str, Any]) -> int:
    return sum(len(s.get("addresses") or []) for s in endpoints.get("subsets") or [])


def test_events_follow_a_scale_up_and_resume_across_a_node_restart(env: Environment,
                                                                   tmp_path: Path) -> None:
    env.up([write(tmp_path, "app.yaml", APP)], wait=60)
    node = env.node()
    listing = node.get("/v1/events")
    listed = int(listing["resourceVersion"])
    keys = {f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"
            for o in listing["items"]}
    assert {"Service/default/web", "Deployment/default/web", "Endpoints/default/web"} <= keys
    assert all(int(o["metadata"]["resourceVersion"]) <= listed for o in listing["items"])

    env.scale("web", 2)
    seen: list[dict[str, Any]] = []
    version = listed
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = node.get(f"/v1/events?resourceVersion={version}")
        seen += answer["events"]
        version = int(answer["resourceVersion"])
        ready = [e for e in seen if e["key"] == "Endpoints/default/web"
                 and _addresses(e["object"]) == 2]
        if ready:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no Endpoints event with 2 addresses in {seen}")
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in seen]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert versions[0] > listed
    added = [e for e in seen if e["type"] == "ADDED" and e["key"].startswith("Pod/default/web-")]
    assert len(added) == 1
    assert any(e["key"] == "Deployment/default/web" and e["type"] == "MODIFIED"
               and e["object"]["metadata"]["generation"] == 2 for e in seen)

    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    env.wait_ready(30)
    after = env.node()
    with pytest.raises(NodeError, match="too old"):
        after.get(f"/v1/events?resourceVersion={listed}")
    relisted = after.get("/v1/events")
    assert int(relisted["resourceVersion"]) > version
