"""The real kubectl (v1.32) prints localsvc's Tables, follows its pages and shows its errors.

A small aiohttp app on 127.0.0.1 serves discovery (localsvc.model.kubeapi.discovery) and lists
and gets of a fixed set of objects, answering exactly as the node will with the pure parts:
tables.table_request/table for Tables, fieldselect for fieldSelector, listing for
limit/continue and the List wrapper, status for errors. kubectl runs against it with a
temporary kubeconfig and its own cache directory each time.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from localsvc.errors import Problem
from localsvc.model.kubeapi import fieldselect, listing, status, tables
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

START = time.time()
RV = 1000


def at(seconds_ago: int) -> str:
    return datetime.fromtimestamp(START - seconds_ago, tz=timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


# Ten hours: kubectl prints "10h" for anything between 10h and 11h (from 8 hours on, no
# minutes), so the ages hold however long after import the test runs (the whole suite imports
# every module first; "3h" became "3h14m" 14 minutes later).
CREATED = 10 * 3600 + 5


def meta(name: str, namespace: str | None = "default") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "creationTimestamp": at(CREATED), "uid": f"u-{name}",
                           "resourceVersion": "7"}
    if namespace:
        out["namespace"] = namespace
    return out


def running(name: str, restarts: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "ready": True, "restartCount": restarts,
                           "state": {"running": {"startedAt": at(60)}}}
    if restarts:
        out["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": at(CREATED)}}
    return out


def pod(name: str, statuses: list[dict[str, Any]], phase: str = "Running",
        ip: str = "10.1.0.5") -> dict[str, Any]:
    return {"metadata": {**meta(name), "labels": {"app": "web"}},
            "spec": {"nodeName": "localsvc", "containers": [{"name": s["name"]}
                                                            for s in statuses]},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}],
                       "containerStatuses": statuses}}


OBJECTS: dict[str, list[dict[str, Any]]] = {
    "pods": [
        pod("web-1", [running("web", restarts=2)]),
        pod("web-2", [{"name": "web", "ready": False, "restartCount": 5,
                       "state": {"waiting": {"reason": "CrashLoopBackOff"}}}], ip="10.1.0.6"),
        pod("job-1", [{"name": "job", "ready": False, "restartCount": 0,
                       "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
            phase="Succeeded", ip="10.1.0.7"),
    ],
    "services": [
        {"metadata": meta("web"), "spec": {"type": "NodePort", "clusterIP": "10.96.0.20",
                                           "clusterIPs": ["10.96.0.20"],
                                           "selector": {"app": "web"},
                                           "ports": [{"port": 80, "nodePort": 30080,
                                                      "protocol": "TCP"}]}},
        {"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.21"],
                                          "ports": [{"port": 443, "nodePort": 31443,
                                                     "protocol": "TCP"}]}},
    ],
    "deployments": [
        {"metadata": meta("web"),
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}},
         "status": {"readyReplicas": 1, "updatedReplicas": 3, "availableReplicas": 1}},
    ],
    "configmaps": [{"metadata": meta(f"cm-{n}"), "data": {"k": "v"}} for n in range(5)],
}


@dataclass
class Server:
    kubeconfig: Path
    tmp: Path
    queries: list[str] = field(default_factory=list)


def resource_request(request: web.Request) -> web.Response:
    group, version, namespace, rest = split_resource_path(request.path)
    resource = by_path(group, version, rest[0])
    if resource is None or rest[0] not in OBJECTS:
        return web.Response(status=404)
    objects = [o for o in OBJECTS[rest[0]]
               if namespace is None or o["metadata"].get("namespace") == namespace]
    wanted = tables.table_request(request.headers.get("Accept", ""))
    include = request.query.get("includeObject", "Metadata")
    if len(rest) == 2:  # get
        found = [o for o in objects if o["metadata"]["name"] == rest[1]]
        if not found:
            gone = status.not_found(status.GroupResource(resource.plural, group), rest[1])
            return json_answer(gone, 404)
        if wanted:
            return json_answer(tables.table(resource.kind, found, time.time(), include),
                               content_type=wanted.content_type)
        return json_answer({"kind": resource.kind, "apiVersion": resource.api_version,
                            **found[0]})
    try:
        matches = fieldselect.compile_selector(resource.kind,
                                               request.query.get("fieldSelector", ""))
        page = listing.paginate(
            [o for o in objects if matches(o)], limit=int(request.query.get("limit", "0")),
            continue_token=request.query.get("continue", ""), resource_version=RV,
            oldest_version=RV - 10, within_namespace=namespace is not None,
            selective="fieldSelector" in request.query)
    except fieldselect.FieldSelectorError as err:
        return json_answer(status.bad_request(str(err)), 400)
    except listing.ListError as err:
        return json_answer(err.status, err.status["code"])
    if wanted:
        return json_answer(tables.table(resource.kind, page.items, time.time(), include,
                                        page.resource_version,
                                        continue_token=page.continue_token,
                                        remaining_item_count=page.remaining_item_count),
                           content_type=wanted.content_type)
    return json_answer(listing.list_body(resource.kind, resource.api_version, page))


async def create(request: web.Request) -> web.Response:
    """POST of a ConfigMap: "taken" exists already, "bad" fails localsvc's validation."""
    body = await request.json()
    name = body["metadata"]["name"]
    if name == "taken":
        return json_answer(status.already_exists(status.GroupResource("configmaps"), name), 409)
    if name == "bad":
        problems = [Problem("-", 3, "ConfigMap", name, "data.a b", "must consist of "
                            "alphanumeric characters, '-', '_' or '.' (got \"a b\")"),
                    Problem("-", 5, "ConfigMap", name, "metadata.labels", "required")]
        return json_answer(status.invalid_from_problems("ConfigMap", "", name, problems), 422)
    return json_answer(body, 201)


def handler(log: list[str], port: int) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        log.append(request.path_qs)
        if request.method == "POST":
            return await create(request)
        path = request.path.rstrip("/") or "/"
        answer = root_discovery(path, request.headers.get("Accept", ""), port)
        return resource_request(request) if answer is None else answer

    return handle


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp, port, kubeconfig = kubectl_home(tmp_path_factory, "kubectl-tables", "default")
    queries: list[str] = []
    with serving(handler(queries, port), port):
        yield Server(kubeconfig, tmp, queries)


_runs = iter(range(1_000_000))


def kubectl(server: Server, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    result = run_kubectl(server.kubeconfig, server.tmp, *args,
                         cache=server.tmp / f"cache-{next(_runs)}")
    assert (result.returncode == 0) == ok, f"kubectl {' '.join(args)}: {result.stderr}"
    return result


def rows(out: str) -> list[list[str]]:
    """kubectl's columns: separated by 3 or more spaces (cells hold at most single spaces)."""
    return [re.split(r" {3,}", line.rstrip()) for line in out.splitlines() if line.strip()]


def test_get_pods(server: Server) -> None:
    assert rows(kubectl(server, "get", "pods").stdout) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],  # in key order, as the server lists
        ["job-1", "0/1", "Completed", "0", "10h"],
        ["web-1", "1/1", "Running", "2 (10h ago)", "10h"],
        ["web-2", "0/1", "CrashLoopBackOff", "5", "10h"],
    ]


def test_get_pods_wide(server: Server) -> None:
    assert rows(kubectl(server, "get", "pods", "-o", "wide").stdout)[::2] == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
         "READINESS GATES"],
        ["web-1", "1/1", "Running", "2 (10h ago)", "10h", "10.1.0.5", "localsvc", "<none>",
         "<none>"],
    ]


def test_get_services_and_deployments(server: Server) -> None:
    assert rows(kubectl(server, "get", "svc", "-o", "wide").stdout) == [
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
        ["lb", "LoadBalancer", "10.96.0.21", "<pending>", "443:31443/TCP", "10h", "<none>"],
        ["web", "NodePort", "10.96.0.20", "<none>", "80:30080/TCP", "10h", "app=web"],
    ]
    assert rows(kubectl(server, "get", "deploy", "-o", "wide").stdout) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        ["web", "1/3", "3", "1", "10h", "web", "nginx:1", "app=web"],
    ]


def test_field_selector_is_applied_by_the_server(server: Server) -> None:
    out = kubectl(server, "get", "pods", "--field-selector", "status.phase=Running,"
                  "status.podIP!=10.1.0.6", "-o", "name").stdout
    assert out.split() == ["pod/web-1"]
    failed = kubectl(server, "get", "pods", "--field-selector", "spec.foo=x", ok=False)
    assert failed.stderr.strip() == (
        'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
        'selector "", field selector "spec.foo=x": field label not supported: spec.foo')


def test_kubectl_follows_continue_tokens(server: Server) -> None:
    start = len(server.queries)
    out = kubectl(server, "get", "configmaps", "--chunk-size=2", "-o", "name").stdout
    assert out.split() == [f"configmap/cm-{n}" for n in range(5)]
    pages = [q for q in server.queries[start:] if q.startswith("/api/v1/namespaces/default/"
                                                                "configmaps")]
    assert len(pages) == 3 and all("limit=2" in q for q in pages)
    assert "continue=" in pages[1] and "continue=" in pages[2]


def test_not_found_error(server: Server) -> None:
    failed = kubectl(server, "get", "pod", "nope", ok=False)
    assert failed.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_create_errors_as_kubectl_prints_them(server: Server) -> None:
    manifest = server.tmp / "cm.yaml"
    for name in ("taken", "bad"):
        manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
        failed = kubectl(server, "create", "-f", str(manifest), "--validate=false", ok=False)
        if name == "taken":
            assert failed.stderr.strip() == (f'Error from server (AlreadyExists): error when '
                                             f'creating "{manifest}": configmaps "taken" already '
                                             f'exists')
        else:
            assert failed.stderr.strip() == (
                f'The ConfigMap "bad" is invalid: \n'
                f'* data.a b: Invalid value: must consist of alphanumeric characters, \'-\', '
                f'\'_\' or \'.\' (got "a b")\n'
                f'* metadata.labels: Required value')
