"""The node's object store through its Kubernetes API: a list gives a resourceVersion, a watch
from it shows a scale-up (the new pod, the Deployment's new generation, then its endpoint), and
after a node restart versions keep growing while a version from before the restart is too old:
the watch answers one ERROR event with the 410 Status, as the API server does."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from localsvc.host.api import Environment
from localsvc.host.client import NodeClient
from localsvc.host.kubepaths import collection_path, with_query
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


def watch_path(kind: str, since: int, seconds: int) -> str:
    return with_query(collection_path(kind), watch="1", resourceVersion=str(since),
                      timeoutSeconds=str(seconds))


def events_of(node: NodeClient, kind: str, since: int) -> list[dict[str, Any]]:
    """The events of `kind` after version `since` the store keeps (a one-second watch)."""
    return list(node.watch(watch_path(kind, since, 1)))


def listed_version(node: NodeClient, kind: str) -> int:
    return int(node.get(collection_path(kind))["metadata"]["resourceVersion"])


def test_events_follow_a_scale_up_and_resume_across_a_node_restart(env: Environment,
                                                                   tmp_path: Path) -> None:
    env.up([write(tmp_path, "app.yaml", APP)], wait=60)
    node = env.node()
    listing = {kind: node.get(collection_path(kind)) for kind in
               ("Service", "Deployment", "Endpoints")}
    listed = max(int(answer["metadata"]["resourceVersion"]) for answer in listing.values())
    for kind, answer in listing.items():
        assert "web" in {o["metadata"]["name"] for o in answer["items"]}, kind
        assert all(int(o["metadata"]["resourceVersion"]) <= listed for o in answer["items"])

    env.scale("web", 2)
    endpoints: list[dict[str, Any]] = []
    began = time.monotonic()
    for event in node.watch(watch_path("Endpoints", listed, 60)):
        endpoints.append(event)
        if event["object"]["metadata"]["name"] == "web" and _addresses(event["object"]) == 2:
            break
    else:
        raise AssertionError(f"no Endpoints event with 2 addresses in {endpoints}")
    assert time.monotonic() - began < 60
    pods, deployments = events_of(node, "Pod", listed), events_of(node, "Deployment", listed)
    seen = pods + deployments + endpoints
    for events in (pods, deployments, endpoints):
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert versions == sorted(versions) and len(set(versions)) == len(versions)
        assert versions[0] > listed
    version = max(int(e["object"]["metadata"]["resourceVersion"]) for e in seen)
    added = [e for e in pods if e["type"] == "ADDED"
             and e["object"]["metadata"]["name"].startswith("web-")]
    assert len(added) == 1
    assert any(e["object"]["metadata"]["name"] == "web" and e["type"] == "MODIFIED"
               and e["object"]["metadata"]["generation"] == 2 for e in deployments)

    env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
    env.ensure()
    env.wait_ready(30)
    after = env.node()
    (expired,) = events_of(after, "Pod", listed)
    assert expired["type"] == "ERROR"
    assert (expired["object"]["kind"], expired["object"]["code"]) == ("Status", 410)
    assert "too old" in expired["object"]["message"]
    assert listed_version(after, "Pod") > version
