"""The real kubectl (v1.32, /usr/bin/kubectl) reads localsvc's discovery and OpenAPI documents.

A small aiohttp app on 127.0.0.1 serves /version, /api, /apis, /api/v1, /apis/G/V (aggregated or
legacy by the Accept header) and /openapi/v2 and /openapi/v3... straight from
localsvc.model.kubeapi (404 elsewhere), and logs each request; kubectl runs against it with a
temporary kubeconfig. Each kubectl gets its own cache directory, so every run discovers afresh.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from localsvc.model.kubeapi import discovery, openapi
from localsvc.model.kubeapi.resources import RESOURCES
from tests.net.kubectl_server import (
    Handler,
    json_answer,
    kubectl_home,
    requires_kubectl,
    root_discovery,
    run_kubectl,
    serving,
)

pytestmark = requires_kubectl


@dataclass
class RequestLog:
    entries: list[tuple[str, str, str]] = field(default_factory=list)  # path, Accept, answer type
    writes: list[str] = field(default_factory=list)  # "METHOD /path?query" of every non-GET
    bodies: list[tuple[str, bytes]] = field(default_factory=list)  # Content-Type, body of each
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, accept: str, answered: str) -> None:
        with self.lock:
            self.entries.append((path, accept, answered))

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _, _ in self.entries]

    def since(self, start: int) -> list[tuple[str, str, str]]:
        with self.lock:
            return self.entries[start:]


# One Deployment the app keeps, last applied with two containers ("web" and "side").
STORED_PATH = "/apis/apps/v1/namespaces/default/deployments/web"
_APPLIED: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx"},
                                                  {"name": "side", "image": "busybox"}]}}},
}
STORED: dict[str, Any] = {**_APPLIED, "metadata": {
    **_APPLIED["metadata"], "uid": "1", "resourceVersion": "5",
    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(_APPLIED)}}}


def discovery_handler(log: RequestLog, port: int) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        accept = request.headers.get("Accept", "")
        if request.method != "GET":
            body = await request.read()
            with log.lock:
                log.writes.append(f"{request.method} {request.path_qs}")
                log.bodies.append((request.headers.get("Content-Type", ""), body))
        if path == STORED_PATH:  # the one object, for kubectl apply's three-way merge
            return json_answer(STORED)
        response = answer(path, accept, request.query.get("hash"),
                          request.headers.get("If-None-Match"))
        log.add(request.path, accept, response.headers.get("Content-Type", "")
                if response.status == 200 else str(response.status))
        return response

    def sent(answer: openapi.OpenAPIAnswer) -> web.Response:
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    def answer(path: str, accept: str, requested_hash: str | None,
               if_none_match: str | None) -> web.Response:
        root = root_discovery(path, accept, port)
        if root is not None:
            return root
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            document = discovery.api_resource_list("", parts[1])
            return json_answer(document) if document else web.Response(status=404)
        if parts[0] == "apis" and len(parts) == 3:
            document = discovery.api_resource_list(parts[1], parts[2])
            return json_answer(document) if document else web.Response(status=404)
        if parts[0] == "apis" and len(parts) == 2:
            group = discovery.api_group(parts[1])
            return json_answer(group) if group else web.Response(status=404)
        if path == "/openapi/v2":
            return sent(openapi.answer_v2(accept, if_none_match))
        if path == "/openapi/v3":
            return sent(openapi.answer_v3_index(if_none_match))
        if path.startswith("/openapi/v3/"):
            return sent(openapi.answer_v3(path, accept, requested_hash,
                                          datetime.now(timezone.utc), if_none_match))
        return web.Response(status=404)

    return handle


@dataclass
class Server:
    port: int
    log: RequestLog
    kubeconfig: Path
    tmp: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp, port, kubeconfig = kubectl_home(tmp_path_factory, "kubectl-discovery")
    log = RequestLog()
    with serving(discovery_handler(log, port), port):
        yield Server(port, log, kubeconfig, tmp)


_runs = iter(range(1_000_000))


def kubectl(server: Server, *args: str,
            cache: Path | None = None) -> tuple[str, list[tuple[str, str, str]]]:
    """Run kubectl with `cache` (default: a fresh one); its stdout and the requests it made
    (path, Accept, the Content-Type or status answered)."""
    before = len(server.log.paths())
    result = run_kubectl(server.kubeconfig, server.tmp, *args,
                         cache=cache or server.tmp / f"cache-{next(_runs)}")
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout, server.log.since(before)


def test_api_resources_lists_exactly_the_served_resources(server: Server) -> None:
    out, requested = kubectl(server, "api-resources", "--no-headers=false")
    lines = out.splitlines()
    header = lines[0].split()
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = set()
    for line in lines[1:]:
        cells = line.split()
        if len(cells) == 4:  # no short names: the column is blank
            cells.insert(1, "")
        rows.add(tuple(cells))
    expected = {(r.plural, ",".join(r.short_names), r.api_version, str(r.namespaced).lower(),
                 r.kind) for r in RESOURCES}
    assert rows == expected
    assert_aggregated_discovery_only(requested)


def assert_aggregated_discovery_only(requested: list[tuple[str, str, str]]) -> None:
    """kubectl asked /api and /apis for the aggregated documents and got them: two requests, no
    fallback to the legacy documents (one request per group-version)."""
    discovered = sorted((path, answered) for path, _, answered in requested if path != "/version")
    aggregated = discovery.aggregated_content_type("v2")
    assert discovered == [("/api", aggregated), ("/apis", aggregated)]


def test_api_resources_wide_shows_verbs_and_categories(server: Server) -> None:
    out, _ = kubectl(server, "api-resources", "-o", "wide", "--api-group=apps")
    deployments = next(line for line in out.splitlines() if line.startswith("deployments "))
    assert "create,delete,deletecollection,get,list,patch,update,watch" in deployments
    assert deployments.split()[-1] == "all"


def test_api_versions(server: Server) -> None:
    out, requested = kubectl(server, "api-versions")
    assert out.split() == ["apps/v1", "batch/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
                           "networking.k8s.io/v1", "storage.k8s.io/v1", "v1"]
    assert_aggregated_discovery_only(requested)


def test_version_reports_the_server(server: Server) -> None:
    out, _ = kubectl(server, "version", "-o", "json")
    server_version = json.loads(out)["serverVersion"]
    assert (server_version["major"], server_version["minor"]) == ("1", "32")
    assert server_version["gitVersion"].startswith("v1.32.0+localsvc.")
    assert server_version["platform"].startswith("linux/")


def test_explain_a_field_shows_the_real_description(server: Server) -> None:
    out, requested = kubectl(server, "explain", "deployment.spec.replicas")
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out
    assert "FIELD: replicas <integer>" in out
    assert "Number of desired pods." in out
    assert ("/openapi/v3/apis/apps/v1", "application/json") in [
        (path, answered) for path, _, answered in requested]


def test_explain_recursive_lists_nested_fields(server: Server) -> None:
    out, _ = kubectl(server, "explain", "pods.spec.containers", "--recursive")
    assert "FIELD: containers <[]Container>" in out
    assert "List of containers belonging to the pod." in out
    fields = {line.strip() for line in out.splitlines()}
    # Nested types by their schema names; IntOrString and Quantity by theirs, not "string".
    for expected in ("imagePullPolicy\t<string>", "readinessProbe\t<Probe>",
                     "containerPort\t<integer> -required-", "port\t<IntOrString> -required-",
                     "divisor\t<Quantity>", "env\t<[]EnvVar>"):
        assert expected in fields, expected


def test_unknown_paths_are_not_found(server: Server) -> None:
    out, _ = kubectl(server, "get", "--raw", "/apis/apps/v1")
    assert json.loads(out)["groupVersion"] == "apps/v1"
    result = run_kubectl(server.kubeconfig, server.tmp, "get", "--raw", "/apis/policy/v1")
    assert result.returncode != 0
    assert "the server could not find the requested resource" in result.stderr


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: other, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""


def test_kubectl_leaves_field_validation_to_the_server(server: Server) -> None:
    """The v3 document's PATCH operation declares fieldValidation and dryRun, so kubectl sends
    its create with both and never validates on the client (which would fetch /openapi/v2)."""
    manifest = server.tmp / "deployment.yaml"
    manifest.write_text(DEPLOYMENT)
    start = len(server.log.paths())
    with server.log.lock:
        writes_before = len(server.log.writes)
    result = run_kubectl(server.kubeconfig, server.tmp, "create", "--dry-run=server", "-f",
                         str(manifest), cache=server.tmp / "c-v")
    assert result.returncode != 0  # the test server has no deployments to create into
    with server.log.lock:
        writes = server.log.writes[writes_before:]
    assert writes and writes[0].startswith("POST /apis/apps/v1/namespaces/default/deployments?")
    assert "fieldValidation=Strict" in writes[0] and "dryRun=All" in writes[0]
    assert "/openapi/v2" not in server.log.paths()[start:]


def test_kubectl_apply_merges_lists_by_the_patch_merge_keys_of_the_v3_document(
        server: Server) -> None:
    """kubectl apply's three-way merge reads x-kubernetes-patch-merge-key from /openapi/v3: the
    dropped container is deleted by its name, the changed one patched in place."""
    manifest = server.tmp / "web.yaml"
    manifest.write_text(DEPLOYMENT.replace("name: other", "name: web").replace(
        "image: nginx", "image: nginx:2"))
    with server.log.lock:
        before = len(server.log.bodies)
    out, requested = kubectl(server, "apply", "-f", str(manifest))
    assert "deployment.apps/web configured" in out
    with server.log.lock:
        (content_type, body), = server.log.bodies[before:]
    assert content_type == "application/strategic-merge-patch+json"
    patch = json.loads(body)["spec"]["template"]["spec"]
    assert patch["$setElementOrder/containers"] == [{"name": "web"}]
    assert patch["containers"] == [{"image": "nginx:2", "name": "web"},
                                   {"$patch": "delete", "name": "side"}]
    assert "/openapi/v2" not in [path for path, _, _ in requested]


def test_kubectl_caches_the_v3_documents_by_hash(server: Server) -> None:
    """A second kubectl with the same cache reads each document from disk: the hashed URL was
    answered immutable."""
    cache = server.tmp / "shared-cache"
    _, first = kubectl(server, "explain", "deployment.spec.replicas", cache=cache)
    _, second = kubectl(server, "explain", "deployment.spec.replicas", cache=cache)
    assert "/openapi/v3/apis/apps/v1" in [path for path, _, _ in first]
    assert "/openapi/v3/apis/apps/v1" not in [path for path, _, _ in second]


def test_the_python_clients_dynamic_client_resolves_kinds_from_discovery(server: Server) -> None:
    """The second reference client: kubernetes.dynamic reads /version and the legacy documents
    (/api, /apis, /api/v1, /apis/G/V) and maps kinds, short names and subresources from them."""
    from kubernetes import client as k8s  # the test dependency, imported where it is used
    from kubernetes.dynamic import DynamicClient

    configuration = k8s.Configuration()
    configuration.host = f"http://127.0.0.1:{server.port}"
    with k8s.ApiClient(configuration) as api_client:
        dynamic = DynamicClient(  # type: ignore[no-untyped-call]  # the client has no hints
            api_client, cache_file=str(server.tmp / "dynamic-cache.json"))
        deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
        assert (deployments.name, deployments.namespaced) == ("deployments", True)
        assert deployments.short_names == ["deploy"]
        assert {"scale", "status"} <= set(deployments.subresources)
        nodes = dynamic.resources.get(api_version="v1", kind="Node")
        assert nodes.namespaced is False
        slices = dynamic.resources.get(api_version="discovery.k8s.io/v1", kind="EndpointSlice")
        assert slices.name == "endpointslices"
        assert dynamic.version["kubernetes"]["minor"] == "32"


def test_explain_from_the_v2_document_in_protobuf(server: Server) -> None:
    """kubectl's v2 explain reads /openapi/v2 in protobuf only (gnostic's openapi_v2.Document)."""
    out, requested = kubectl(server, "explain", "deployment.spec.replicas",
                             "--output=plaintext-openapiv2")
    assert "FIELD:    replicas <integer>" in out
    assert "Number of desired pods." in out
    assert ("/openapi/v2", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf") in [
        (path, answered) for path, _, answered in requested]
    recursive, _ = kubectl(server, "explain", "pods.spec.containers", "--recursive",
                           "--output=plaintext-openapiv2")
    fields = {line.strip() for line in recursive.splitlines()}
    assert {"ports\t<[]Object>", "containerPort\t<integer>", "readinessProbe\t<Object>"} <= fields
