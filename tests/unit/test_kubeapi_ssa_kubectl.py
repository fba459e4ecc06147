"""The real kubectl v1.32 against server-side apply: a tiny API on 127.0.0.1 serving ConfigMaps
through ssa.server_side_apply, so kubectl's own requests, flags and error printing are the test.

Only the apply path is served (discovery, GET, apply PATCH); the node's full API is elsewhere.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml
from aiohttp import web

from localsvc.model.kubeapi.ssa import (
    ApplyConflict, InvalidApply, server_side_apply, track_update,
)
from tests.net.kubectl_server import requires_kubectl, run_kubectl, serving_app, write_kubeconfig
from tests.net.ports import free_port

pytestmark = requires_kubectl
NOW = "2026-01-01T00:00:00Z"

RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [
    {"name": "configmaps", "singularName": "configmap", "namespaced": True, "kind": "ConfigMap",
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
     "shortNames": ["cm"]}]}


def status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    return web.json_response(body, status=code)


def make_app(store: dict[str, dict[str, Any]]) -> web.Application:
    async def api(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"],
                                  "serverAddressByClientCIDRs": []})

    async def apis(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    async def core(_: web.Request) -> web.Response:
        return web.json_response(RESOURCES)

    async def get(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in store:
            return status(404, "NotFound", f'configmaps "{name}" not found')
        return web.json_response(store[name])

    def stored(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(len(store) + sum(
            int(o["metadata"]["resourceVersion"]) for o in store.values()) + 1)
        store[obj["metadata"]["name"]] = obj
        return obj

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        manager = request.query.get("fieldManager", "unknown")
        return web.json_response(stored(track_update(None, body, manager, NOW)), status=201)

    async def patch(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if request.content_type == "application/json-patch+json":
            try:
                after = jsonpatch.apply_patch(store[name], await request.json())
            except jsonpatch.JsonPatchTestFailed as failed:
                return status(409, "Conflict", str(failed))
            manager = request.query.get("fieldManager", "kubectl")
            return web.json_response(stored(track_update(store[name], after, manager, NOW)))
        if request.content_type != "application/apply-patch+yaml":
            return status(415, "UnsupportedMediaType", request.content_type)
        applied = yaml.safe_load(await request.text())
        try:
            result = server_side_apply(store.get(name), applied,
                                       request.query.get("fieldManager", ""),
                                       request.query.get("force") == "true", NOW)
        except (ApplyConflict, InvalidApply) as refused:
            body = refused.status()
            return web.json_response(body, status=body["code"])
        created = name not in store
        if result != store.get(name):
            stored(result)
        return web.json_response(store[name], status=201 if created else 200)

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", core)
    app.router.add_get("/api/v1/namespaces/{ns}/configmaps/{name}", get)
    app.router.add_post("/api/v1/namespaces/{ns}/configmaps", create)
    app.router.add_patch("/api/v1/namespaces/{ns}/configmaps/{name}", patch)
    return app


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, dict[str, dict[str, Any]]]]:
    """The kubeconfig of a fresh API, and its store of ConfigMaps by name."""
    store: dict[str, dict[str, Any]] = {}
    port = free_port()
    kubeconfig = write_kubeconfig(tmp_path, port, namespace="default")
    with serving_app(make_app(store), port):
        yield kubeconfig, store


def kubectl(kubeconfig: Path, tmp: Path, manifest: str, *args: str,
            server_side: bool = True) -> subprocess.CompletedProcess[str]:
    (tmp / "cm.yaml").write_text(manifest)
    return run_kubectl(kubeconfig, tmp, "apply", f"--server-side={str(server_side).lower()}",
                       "--validate=false", "-f", str(tmp / "cm.yaml"), *args,
                       cache=tmp / "cache")


def config_map(value: str) -> str:
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
            f"data:\n  key: {value}\n")


def test_kubectl_server_side_apply_conflict_and_force(
        server: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    kubeconfig, store = server
    first = kubectl(kubeconfig, tmp_path, config_map("one"), "--field-manager=alice")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "configmap/settings serverside-applied"
    assert store["settings"]["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:data": {"f:key": {}}}

    again = kubectl(kubeconfig, tmp_path, config_map("one"), "--field-manager=bob")
    assert again.returncode == 0, again.stderr  # equal values: shared, no conflict

    conflict = kubectl(kubeconfig, tmp_path, config_map("two"), "--field-manager=bob")
    assert conflict.returncode != 0
    assert ('error: Apply failed with 1 conflict: conflict with "alice": .data.key'
            in conflict.stderr)
    assert "Please review the fields above--they currently have other managers" in conflict.stderr
    assert store["settings"]["data"] == {"key": "one"}

    forced = kubectl(kubeconfig, tmp_path, config_map("two"), "--field-manager=bob",
                     "--force-conflicts")
    assert forced.returncode == 0, forced.stderr
    assert store["settings"]["data"] == {"key": "two"}
    managers = {e["manager"]: e["fieldsV1"] for e in store["settings"]["metadata"]["managedFields"]}
    assert managers == {"bob": {"f:data": {"f:key": {}}}}
    assert json.loads(json.dumps(store["settings"]))["metadata"]["name"] == "settings"


def test_kubectl_client_side_apply_then_server_side_apply(
        server: tuple[Path, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    kubeconfig, store = server
    created = kubectl(kubeconfig, tmp_path, config_map("one"), server_side=False)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "configmap/settings created"
    entry = store["settings"]["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"]) == ("kubectl-client-side-apply", "Update")
    assert entry["fieldsV1"]["f:data"] == {".": {}, "f:key": {}}

    # Another manager conflicts with the client-side applier's field.
    other = kubectl(kubeconfig, tmp_path, config_map("two"), "--field-manager=other")
    assert other.returncode != 0
    assert ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
            ".data.key") in other.stderr

    # kubectl itself first moves the client-side applier's fields to its own apply entry (a JSON
    # patch of managedFields), so its server-side apply takes over without a conflict.
    upgraded = kubectl(kubeconfig, tmp_path, config_map("two"))
    assert upgraded.returncode == 0, upgraded.stderr
    assert store["settings"]["data"] == {"key": "two"}
    managers = [(e["manager"], e["operation"])
                for e in store["settings"]["metadata"]["managedFields"]]
    assert ("kubectl", "Apply") in managers
    assert ("kubectl-client-side-apply", "Update") not in managers
