"""The real kubectl v1.32 against server-side apply: a tiny API on 127.0.0.1 serving ConfigMaps
through ssa.server_side_apply, so kubectl's own requests, flags and error printing are the test.

Only the apply path is served (discovery, GET, apply PATCH); the node's full API is elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
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

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
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
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    store: dict[str, dict[str, Any]] = {}
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(store))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def kubectl(url: str, tmp: Path, manifest: str, *args: str,
            server_side: bool = True) -> subprocess.CompletedProcess[str]:
    (tmp / "cm.yaml").write_text(manifest)
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": url}}],
        "users": [{"name": "t", "user": {}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t",
                                               "namespace": "default"}}]}))
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp / "cache"),
         "--request-timeout=20s", "apply", f"--server-side={str(server_side).lower()}",
         "--validate=false", "-f", str(tmp / "cm.yaml"), *args],
        capture_output=True, text=True, timeout=60, check=False)


def config_map(value: str) -> str:
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
            f"data:\n  key: {value}\n")


def test_kubectl_server_side_apply_conflict_and_force(
        server: tuple[str, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    url, store = server
    first = kubectl(url, tmp_path, config_map("one"), "--field-manager=alice")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "configmap/settings serverside-applied"
    assert store["settings"]["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:data": {"f:key": {}}}

    again = kubectl(url, tmp_path, config_map("one"), "--field-manager=bob")
    assert again.returncode == 0, again.stderr  # equal values: shared, no conflict

    conflict = kubectl(url, tmp_path, config_map("two"), "--field-manager=bob")
    assert conflict.returncode != 0
    assert ('error: Apply failed with 1 conflict: conflict with "alice": .data.key'
            in conflict.stderr)
    assert "Please review the fields above--they currently have other managers" in conflict.stderr
    assert store["settings"]["data"] == {"key": "one"}

    forced = kubectl(url, tmp_path, config_map("two"), "--field-manager=bob",
                     "--force-conflicts")
    assert forced.returncode == 0, forced.stderr
    assert store["settings"]["data"] == {"key": "two"}
    managers = {e["manager"]: e["fieldsV1"] for e in store["settings"]["metadata"]["managedFields"]}
    assert managers == {"bob": {"f:data": {"f:key": {}}}}
    assert json.loads(json.dumps(store["settings"]))["metadata"]["name"] == "settings"


def test_kubectl_client_side_apply_then_server_side_apply(
        server: tuple[str, dict[str, dict[str, Any]]], tmp_path: Path) -> None:
    url, store = server
    created = kubectl(url, tmp_path, config_map("one"), server_side=False)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "configmap/settings created"
    entry = store["settings"]["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"]) == ("kubectl-client-side-apply", "Update")
    assert entry["fieldsV1"]["f:data"] == {".": {}, "f:key": {}}

    # Another manager conflicts with the client-side applier's field.
    other = kubectl(url, tmp_path, config_map("two"), "--field-manager=other")
    assert other.returncode != 0
    assert ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
            ".data.key") in other.stderr

    # kubectl itself first moves the client-side applier's fields to its own apply entry (a JSON
    # patch of managedFields), so its server-side apply takes over without a conflict.
    upgraded = kubectl(url, tmp_path, config_map("two"))
    assert upgraded.returncode == 0, upgraded.stderr
    assert store["settings"]["data"] == {"key": "two"}
    managers = [(e["manager"], e["operation"])
                for e in store["settings"]["metadata"]["managedFields"]]
    assert ("kubectl", "Apply") in managers
    assert ("kubectl-client-side-apply", "Update") not in managers
