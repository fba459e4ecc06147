"""The node on the ClusterIP path, seen from pods: a pod reaching its own Service (hairpin).
Real engine, real packets; both dataplanes (the `env` fixture of test_services.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from localsvc.host.api import Environment
from tests.integration.conftest import write
from tests.integration.test_services import backend, env, fetch_many, service

__all__ = ["env"]  # the fixture, used by name


def test_a_pod_reaches_its_own_service(env: Environment, tmp_path: Path) -> None:
    """Hairpin: the only endpoint of a Service is the client itself (the node's masquerade
    makes the reply come back through the node, as it must)."""
    env.up([write(tmp_path, "solo.yaml", "\n---".join([backend("solo", replicas=1),
                                                       service("solo", "solo")]))], wait=120)
    pod = next(p["metadata"]["name"] for p in env.get("pods")
               if p["metadata"]["name"].startswith("solo-"))
    assert fetch_many(env, "http://solo/", 3, pod=pod) == Counter({pod: 3})
