"""The real kubectl (v1.32) describes objects defaulted by model/defaults as it describes a
cluster's: the strategy, probe timeouts and thresholds, port protocols, fieldRef apiVersions
(the lines tests/integration/test_kubectl_parity.py expects of the node).

A small aiohttp app on 127.0.0.1 serves discovery (localsvc.model.kubeapi.discovery) and the
example's objects twice: as written in namespace "raw", and through with_defaults in namespace
"defaulted". kubectl runs against it with a temporary kubeconfig and its own cache directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from localsvc.model.defaults import with_defaults
from localsvc.model.kubeapi import status
from localsvc.model.kubeapi.resources import by_path
from tests.net.kubectl_server import (
    Handler,
    json_answer,
    kubectl_home,
    requires_kubectl,
    root_discovery,
    run_kubectl,
    serving,
    split_resource_path,
)

pytestmark = requires_kubectl
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backend-service"

Obj = dict[str, Any]


def _stored(obj: Obj, namespace: str) -> Obj:
    """`obj` as the API returns it in `namespace`: with the metadata the server adds."""
    return {**obj, "metadata": {**obj["metadata"], "namespace": namespace,
                                "uid": f"u-{obj['metadata']['name']}", "resourceVersion": "7",
                                "creationTimestamp": "2026-12-07T06:00:00Z"}}


def _objects() -> dict[tuple[str, str], list[Obj]]:
    """(namespace, plural) -> objects, for the example's manifests raw and defaulted."""
    manifests = [doc for name in ("backend.yaml", "client.yaml")
                 for doc in yaml.safe_load_all((EXAMPLE / name).read_text()) if doc]
    plurals = {"Deployment": "deployments", "Service": "services", "Pod": "pods"}
    out: dict[tuple[str, str], list[Obj]] = {}
    for namespace, change in (("raw", lambda o: o), ("defaulted", with_defaults)):
        for manifest in manifests:
            out.setdefault((namespace, plurals[manifest["kind"]]), []).append(
                _stored(change(manifest), namespace))
    return out


OBJECTS = _objects()


def _resource_request(request: web.Request) -> web.Response:
    group, version, namespace, rest = split_resource_path(request.path)
    resource = by_path(group, version, rest[0])
    if resource is None:
        return web.Response(status=404)
    objects = OBJECTS.get((namespace or "", rest[0]), [])
    if len(rest) == 2:
        found = [o for o in objects if o["metadata"]["name"] == rest[1]]
        if not found:
            return json_answer(status.not_found(status.GroupResource(resource.plural, group),
                                                rest[1]), 404)
        return json_answer(found[0])
    # describe lists the Deployment's ReplicaSets, a Service's Endpoints...: none here.
    return json_answer({"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                        "metadata": {"resourceVersion": "7"}, "items": []})


def _handler(port: int) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        answer = root_discovery(path, request.headers.get("Accept", ""), port)
        return _resource_request(request) if answer is None else answer

    return handle


@dataclass
class Server:
    kubeconfig: Path
    tmp: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp, port, kubeconfig = kubectl_home(tmp_path_factory, "kubectl-describe")
    with serving(_handler(port), port, method="GET"):
        yield Server(kubeconfig, tmp)


def describe(server: Server, namespace: str, what: str) -> str:
    done = run_kubectl(server.kubeconfig, server.tmp, "-n", namespace, "describe", what,
                       "--show-events=false", cache=server.tmp / "cache", timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


# The lines tests/integration/test_kubectl_parity.py expects of `kubectl describe deploy`.
DEPLOYMENT_LINES = (
    r"StrategyType:\s+RollingUpdate\n",
    r"RollingUpdateStrategy:\s+25% max unavailable, 25% max surge\n",
    r"Port:\s+80/TCP\n", r"Host Port:\s+0/TCP\n",
    r"Readiness:\s+http-get http://:http/healthz delay=0s timeout=1s period=2s "
    r"#success=1 #failure=3\n",
    r"POD_NAME:\s+\(v1:metadata.name\)\n")


def test_describe_shows_a_defaulted_deployment_as_a_clusters(server: Server) -> None:
    out = describe(server, "defaulted", "deploy/backend")
    assert [line for line in DEPLOYMENT_LINES if not re.search(line, out)] == [], out


def test_describe_misses_them_without_defaults(server: Server) -> None:
    out = describe(server, "raw", "deploy/backend")
    assert [line for line in DEPLOYMENT_LINES if re.search(line, out)] == [], out


def test_describe_pod_and_service(server: Server) -> None:
    pod = describe(server, "defaulted", "pod/client")
    for line in (r"Service Account:\s+default\n", r"Priority:\s+0\n",
                 r"Tolerations:\s+node.kubernetes.io/not-ready:NoExecute op=Exists for 300s\n"
                 r"\s+node.kubernetes.io/unreachable:NoExecute op=Exists for 300s\n"):
        assert re.search(line, pod), f"{line!r} not in:\n{pod}"
    service = describe(server, "defaulted", "svc/backend-service")
    for line in (r"Type:\s+ClusterIP\n", r"IP Family Policy:\s+SingleStack\n",
                 r"IP Families:\s+IPv4\n", r"TargetPort:\s+80/TCP\n",
                 r"Session Affinity:\s+None\n", r"Internal Traffic Policy:\s+Cluster\n"):
        assert re.search(line, service), f"{line!r} not in:\n{service}"
