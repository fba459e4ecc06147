"""The real kubectl (v1.32, /usr/bin/kubectl) patches objects; localsvc's patch functions apply
the exact bodies it sends.

A tiny aiohttp app on 127.0.0.1 plays the API server for one Deployment: legacy discovery of core
v1 and apps/v1 (written here, the minimum kubectl needs), GET, POST (kubectl apply's create) and
PATCH of deployments and of their scale subresource, answered with
localsvc.model.kubeapi.patch's result for the request's Content-Type; /openapi/* are 404, so
kubectl takes the patch metadata compiled into it. Each PATCH's type and body is recorded, and
each test checks both what kubectl sent and the object that results.
"""

from __future__ import annotations

import copy
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from localsvc.model.kubeapi.patch import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from localsvc.model.kubeapi.patchmeta import root_type
from tests.net.kubectl_server import (
    Handler,
    kubectl_home,
    requires_kubectl,
    run_kubectl,
    serving,
)

pytestmark = requires_kubectl

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def resource_list(group_version: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}


VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
DISCOVERY: dict[str, dict[str, Any]] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
        "name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": resource_list("v1", [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
         "verbs": VERBS, "shortNames": ["po"]}]),
    "/apis/apps/v1": resource_list("apps/v1", [
        {"name": "deployments", "singularName": "deployment", "namespaced": True,
         "kind": "Deployment", "verbs": VERBS, "shortNames": ["deploy"]},
        {"name": "deployments/scale", "singularName": "", "namespaced": True,
         "group": "autoscaling", "version": "v1", "kind": "Scale",
         "verbs": ["get", "patch", "update"]},
        {"name": "deployments/status", "singularName": "", "namespaced": True,
         "kind": "Deployment", "verbs": ["get", "patch", "update"]}]),
}


@dataclass
class FakeServer:
    """One namespace's Deployments, and the PATCH requests kubectl made (Content-Type, body)."""

    port: int
    tmp: Path
    kubeconfig: Path
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    patches: list[tuple[str, str, Any]] = field(default_factory=list)  # path, type, body
    lock: threading.Lock = field(default_factory=threading.Lock)
    revision: int = 1

    def store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.revision += 1
        obj = copy.deepcopy(obj)
        obj["metadata"].update(resourceVersion=str(self.revision), namespace="default",
                               uid=obj["metadata"].get("uid", f"uid-{obj['metadata']['name']}"))
        self.objects[obj["metadata"]["name"]] = obj
        return obj

    def taken(self) -> list[tuple[str, str, Any]]:
        with self.lock:
            taken, self.patches = self.patches, []
            return taken


def status(code: int, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": message, "code": code}, status=code)


def scale_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": meta["name"], "namespace": "default",
                         "resourceVersion": meta["resourceVersion"]},
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {"replicas": obj["spec"].get("replicas", 1), "selector": "app=web"}}


def with_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """Some of the defaults the API server fills in on create: fields the live object has and the
    manifest does not, which kubectl apply's patches must leave alone."""
    spec = obj["spec"]
    spec.setdefault("revisionHistoryLimit", 10)
    if spec.get("strategy", {}).get("type") == "RollingUpdate":
        spec["strategy"].setdefault("rollingUpdate", {}).setdefault("maxUnavailable", "25%")
    for item in spec["template"]["spec"]["containers"]:
        item.setdefault("imagePullPolicy", "IfNotPresent")
        item.setdefault("terminationMessagePath", "/dev/termination-log")
        for port in item.get("ports", []):
            port.setdefault("protocol", "TCP")
    return obj


def patched(obj: dict[str, Any], content_type: str, body: Any, type_name: str) -> dict[str, Any]:
    if content_type == SMP:
        return apply_strategic_merge_patch(obj, body, type_name)
    if content_type == MERGE:
        return apply_merge_patch(obj, body)
    if content_type == JSON_PATCH:
        return apply_json_patch(obj, body)
    raise PatchError(f"unsupported patch type {content_type}", 415)


def fake_api(server: FakeServer) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        if request.method == "GET" and path in DISCOVERY:
            return web.json_response(DISCOVERY[path])
        if not path.startswith(DEPLOYMENTS):
            return status(404, f"the server could not find the requested resource ({path})")
        rest = path.removeprefix(DEPLOYMENTS).strip("/").split("/")
        name, subresource = rest[0], rest[1] if len(rest) > 1 else ""
        with server.lock:
            if request.method == "POST" and name == "":
                created = with_defaults(await request.json())
                return web.json_response(server.store(created), status=201)
            current = server.objects.get(name)
            if current is None:
                return status(404, f'deployments.apps "{name}" not found')
            if request.method == "GET":
                return web.json_response(scale_of(current) if subresource else current)
            if request.method != "PATCH":
                return status(405, "method not allowed")
            content_type = request.content_type
            body = json.loads(await request.read())
            server.patches.append((path, content_type, body))
            try:
                if subresource == "scale":
                    scale = patched(scale_of(current), content_type, body, "autoscaling.v1.Scale")
                    current = copy.deepcopy(current)
                    current["spec"]["replicas"] = scale["spec"]["replicas"]
                    return web.json_response(scale_of(server.store(current)))
                type_name = root_type("apps/v1", "Deployment")
                assert type_name is not None
                return web.json_response(server.store(
                    patched(current, content_type, body, type_name)))
            except PatchError as error:
                return status(error.status, error.message)

    return handle


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    tmp, port, kubeconfig = kubectl_home(tmp_path_factory, "kubectl-patches", "default")
    server = FakeServer(port, tmp, kubeconfig)
    with serving(fake_api(server), port):
        yield server


def kubectl_result(api: FakeServer, *args: str,
                   stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_kubectl(api.kubeconfig, api.tmp, *args, cache=api.tmp / "cache", stdin=stdin)


def kubectl(api: FakeServer, *args: str, stdin: str | None = None) -> str:
    result = kubectl_result(api, *args, stdin=stdin)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def manifest(image: str = "nginx:1.25", env: tuple[str, ...] = ("A", "B"), port: int = 80,
             labels: dict[str, str] | None = None, sidecar: bool = False,
             recreate: bool = False) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [
        {"name": "web", "image": image,
         "env": [{"name": name, "value": name.lower()} for name in env],
         "ports": [{"containerPort": port}, {"containerPort": 443}]},
        {"name": "log", "image": "busybox"}]
    if sidecar:
        containers.append({"name": "sidecar", "image": "envoy"})
    strategy: dict[str, Any] = ({"type": "Recreate"} if recreate else
                                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app": "web", "tier": "fe"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": strategy,
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": containers}}}}


def fresh(api: FakeServer) -> None:
    """The Deployment as a first `kubectl apply` of manifest() creates it."""
    with api.lock:
        api.objects.clear()
    kubectl(api, "apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(manifest()))
    api.taken()


def live(api: FakeServer) -> dict[str, Any]:
    with api.lock:
        return copy.deepcopy(api.objects["web"])


def containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def test_second_apply_after_editing_the_manifest(api: FakeServer) -> None:
    fresh(api)
    edited = manifest(env=("A",), port=8080, labels={"app": "web"}, sidecar=True, recreate=True)
    kubectl(api, "apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(edited))
    [(path, content_type, body)] = api.taken()
    assert (path, content_type) == (f"{DEPLOYMENTS}/web", SMP)
    pod_spec = body["spec"]["template"]["spec"]
    # kubectl's three-way patch uses every directive: these are what it really sends.
    assert body["metadata"]["labels"] == {"tier": None}
    assert body["spec"]["strategy"]["$retainKeys"] == ["type"]
    assert pod_spec["$setElementOrder/containers"] == [
        {"name": "web"}, {"name": "log"}, {"name": "sidecar"}]
    web_patch = next(c for c in pod_spec["containers"] if c.get("name") == "web")
    assert {"$patch": "delete", "name": "B"} in web_patch["env"]
    assert {"$patch": "delete", "containerPort": 80} in web_patch["ports"]
    result = live(api)
    assert result["metadata"]["labels"] == {"app": "web"}
    last_applied = json.loads(result["metadata"]["annotations"][LAST_APPLIED])
    assert (last_applied["spec"], last_applied["metadata"]["labels"]) == (
        edited["spec"], edited["metadata"]["labels"])
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    assert list(containers(result)) == ["web", "log", "sidecar"]
    web = containers(result)["web"]
    assert web["env"] == [{"name": "A", "value": "a"}]
    # The server's defaults stay: port 443's protocol, the container's pull policy.
    assert web["ports"] == [{"containerPort": 8080}, {"containerPort": 443, "protocol": "TCP"}]
    assert web["imagePullPolicy"] == "IfNotPresent"
    assert result["spec"]["revisionHistoryLimit"] == 10
    assert containers(result)["sidecar"] == {"name": "sidecar", "image": "envoy"}


def test_third_apply_removes_a_container_and_changes_args(api: FakeServer) -> None:
    fresh(api)
    first = manifest(sidecar=True)
    kubectl(api, "apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(first))
    edited = manifest()
    edited["spec"]["template"]["spec"]["containers"][0]["args"] = ["--verbose"]
    edited["metadata"]["finalizers"] = ["example.com/keep"]
    kubectl(api, "apply", "--validate=false", "-f", "-", stdin=yaml.safe_dump(edited))
    [_, (_, content_type, body)] = api.taken()
    assert content_type == SMP
    pod_spec = body["spec"]["template"]["spec"]
    assert {"$patch": "delete", "name": "sidecar"} in pod_spec["containers"]
    assert body["metadata"]["finalizers"] == ["example.com/keep"]
    result = live(api)
    assert list(containers(result)) == ["web", "log"]
    assert containers(result)["web"]["args"] == ["--verbose"]
    assert containers(result)["web"]["imagePullPolicy"] == "IfNotPresent"
    assert result["metadata"]["finalizers"] == ["example.com/keep"]
    assert result["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}


def test_label_and_annotate(api: FakeServer) -> None:
    fresh(api)
    kubectl(api, "label", "deployment", "web", "env=prod", "tier-")
    kubectl(api, "annotate", "deployment", "web", "note=hi")
    taken = api.taken()
    assert [(content_type, body) for _, content_type, body in taken] == [
        (MERGE, {"metadata": {"labels": {"env": "prod", "tier": None}}}),
        (MERGE, {"metadata": {"annotations": {"note": "hi"}}})]
    result = live(api)
    assert result["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert result["metadata"]["annotations"]["note"] == "hi"


def test_set_image(api: FakeServer) -> None:
    fresh(api)
    kubectl(api, "set", "image", "deployment/web", "web=nginx:1.26")
    [(_, content_type, body)] = api.taken()
    assert content_type == SMP
    assert body == {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
        "containers": [{"image": "nginx:1.26", "name": "web"}]}}}}
    assert [c["image"] for c in containers(live(api)).values()] == ["nginx:1.26", "busybox"]


def test_rollout_restart(api: FakeServer) -> None:
    fresh(api)
    kubectl(api, "rollout", "restart", "deployment/web")
    [(_, content_type, body)] = api.taken()
    assert content_type == SMP
    annotations = body["spec"]["template"]["metadata"]["annotations"]
    assert list(annotations) == ["kubectl.kubernetes.io/restartedAt"]
    template = live(api)["spec"]["template"]
    assert template["metadata"]["annotations"] == annotations
    assert template["metadata"]["labels"] == {"app": "web"}


def test_scale(api: FakeServer) -> None:
    fresh(api)
    kubectl(api, "scale", "deployment/web", "--replicas=5")
    [(path, content_type, body)] = api.taken()
    assert (path, content_type, body) == (f"{DEPLOYMENTS}/web/scale", MERGE,
                                          {"spec": {"replicas": 5}})
    assert live(api)["spec"]["replicas"] == 5


@pytest.mark.parametrize(("patch_type", "patch", "content_type"), [
    ("strategic", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.27"}]}}}}, SMP),
    ("merge", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.27"}]}}}}, MERGE),
    ("json", [{"op": "replace", "path": "/spec/template/spec/containers/0/image",
               "value": "nginx:1.27"}], JSON_PATCH),
])
def test_patch_types(api: FakeServer, patch_type: str, patch: Any, content_type: str) -> None:
    fresh(api)
    kubectl(api, "patch", "deployment", "web", f"--type={patch_type}", "-p", json.dumps(patch))
    [(_, sent_type, body)] = api.taken()
    assert (sent_type, body) == (content_type, patch)
    result = containers(live(api))
    assert result["web"]["image"] == "nginx:1.27"
    # Merge patch replaces the list; strategic merge and JSON patch keep the other container.
    assert list(result) == (["web"] if patch_type == "merge" else ["web", "log"])


def test_a_patch_error_reaches_kubectl_with_its_message(api: FakeServer) -> None:
    fresh(api)
    result = kubectl_result(api, "patch", "deployment", "web", "--type=json", "-p",
                            '[{"op": "remove", "path": "/spec/nothere"}]')
    assert result.returncode != 0
    assert "the JSON patch does not apply" in result.stderr
    api.taken()
