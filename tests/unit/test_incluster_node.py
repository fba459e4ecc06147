"""The node's side of the API from inside pods, without Docker: the `kubernetes` Service in the
store (re-created when deleted, never pruned, refused in a manifest) and the API's middleware
taking a pod's service-account token for the Kubernetes API only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import docker
import pytest
from aiohttp.test_utils import TestClient, TestServer

from localsvc.errors import ManifestError
from localsvc.model.incluster import access_files
from localsvc.model.satoken import TokenSubject, mint, signing_key, verify
from localsvc.node.server import make_app
from localsvc.node.context import NodeContext
from localsvc.node.controller import Controller
from localsvc.node.incluster import MINTED_KEPT, PodTokens
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord, Store
from tests.unit.node_builders import config, controller, manifests, service

Obj = dict[str, Any]
KEY = "Service/default/kubernetes"


def test_the_kubernetes_service_and_its_endpoints_are_in_the_store(tmp_path: Path) -> None:
    node = controller(tmp_path)
    stored = node.objects.get(KEY)
    assert stored is not None and stored["spec"]["ports"][0]["port"] == 443
    first = stored["spec"]["clusterIP"]
    assert first.endswith(".1") and int(node.dns_ip.rsplit(".", 1)[1]) == 10
    endpoints = node.objects.get("Endpoints/default/kubernetes")
    assert endpoints is not None
    assert endpoints["subsets"][0]["addresses"] == [{"ip": node.ctx.config.node_ip}]
    assert node.objects.get("EndpointSlice/default/kubernetes") is not None


def test_deleted_it_is_re_created_as_a_new_object(tmp_path: Path) -> None:
    node = controller(tmp_path)
    before = node.objects.get(KEY)
    assert before is not None
    assert node.delete([KEY])[0]["action"] == "deleted"
    node.sync()
    after = node.objects.get(KEY)
    assert after is not None and after["metadata"]["uid"] != before["metadata"]["uid"]


def test_a_prune_leaves_it_and_a_manifest_cannot_take_it(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(service("web")), prune=True)
    node.apply(manifests(service("other")), prune=True)
    node.sync()
    assert node.objects.get(KEY) is not None
    with pytest.raises(ManifestError) as raised:
        node.apply(manifests(service("kubernetes")), prune=False)
    assert raised.value.problems[0].path == "metadata.name"
    assert "environment's own" in raised.value.problems[0].message
    assert "Service/default/kubernetes" not in node.state.objects


def test_one_applied_before_it_was_the_nodes_is_dropped_when_the_state_loads(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = controller(tmp_path)
    old.apply(manifests(service("web")), prune=False)
    applied = {**service("kubernetes"), "metadata": {
        "name": "kubernetes", "namespace": "default", "uid": "old-uid"}}
    old.state.objects[KEY] = applied  # as a node of before this Service was its own kept it
    old.state.sources[KEY] = {"file": "old.yaml", "line": 3}
    old.state.allocations["clusterIPs"]["default/kubernetes"] = "10.231.128.77"
    old.store.save(old.state)
    with caplog.at_level("WARNING", logger="localsvc.store"):
        node = controller(tmp_path)
    assert KEY not in node.state.objects and KEY not in node.state.sources
    assert "default/kubernetes" not in node.state.allocations["clusterIPs"]
    assert "Service/default/web" in node.state.objects
    assert any("dropped" in r.getMessage() for r in caplog.records)
    stored = node.objects.get(KEY)
    assert stored is not None and stored["metadata"]["uid"] != "old-uid"
    assert stored["metadata"]["labels"]["component"] == "apiserver"
    assert "10.231.128.77" not in [s.cluster_ip for s in node.snapshot.services]


def _statuses(node: Any, token: str, paths: list[str]) -> list[int]:
    async def main() -> list[int]:
        async with TestClient(TestServer(make_app(node, "env-secret", "unit"))) as client:
            out = []
            for path in paths:
                answer = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                out.append(answer.status)
            return out
    return asyncio.run(main())


def _account_uid(node: Any, namespace: str = "default") -> str:
    account = node.objects.get(f"ServiceAccount/{namespace}/default")
    assert account is not None
    return str(account["metadata"]["uid"])


def test_a_pods_token_opens_the_kubernetes_api_only(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.objects.put("Pod/default/web", {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "web", "namespace": "default", "uid": "uid-1"}})
    subject = TokenSubject("default", "default", _account_uid(node), "web", "uid-1")
    pod_token = mint(signing_key("env-secret"), subject, 1)
    foreign = mint(signing_key("another-environment"), subject, 1)
    paths = ["/api/v1/namespaces/default/services", "/v1/status"]
    assert _statuses(node, "env-secret", paths) == [200, 200]
    assert _statuses(node, pod_token, paths) == [200, 401]
    assert _statuses(node, foreign, paths) == [401, 401]
    assert _statuses(node, "env-secret" + "x", paths) == [401, 401]


def test_a_token_bound_to_a_pod_that_is_gone_is_refused(tmp_path: Path) -> None:
    node = controller(tmp_path)
    key = signing_key("env-secret")
    path = ["/api/v1/namespaces/default/services"]
    account_uid = _account_uid(node)
    gone = mint(key, TokenSubject("default", "default", account_uid, "web", "uid-1"), 1)
    assert _statuses(node, gone, path) == [401]
    node.objects.put("Pod/default/web", {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "web", "namespace": "default", "uid": "uid-2"}})  # re-created: another pod
    assert _statuses(node, gone, path) == [401]
    unbound = mint(key, TokenSubject("default", "default", account_uid), 1)  # no pod claim
    assert _statuses(node, unbound, path) == [200]


def test_a_token_of_another_or_no_service_account_uid_is_refused(tmp_path: Path) -> None:
    """As the API server checks a bound token: its ServiceAccount exists with the token's uid
    (a re-created ServiceAccount's old tokens are refused)."""
    node = controller(tmp_path)
    key = signing_key("env-secret")
    path = ["/api/v1/namespaces/default/services"]
    for account_uid in ["", "another-uid"]:
        token = mint(key, TokenSubject("default", "default", account_uid), 1)
        assert _statuses(node, token, path) == [401]
    missing = mint(key, TokenSubject("default", "builder", _account_uid(node)), 1)
    assert _statuses(node, missing, path) == [401]  # no such ServiceAccount


def test_the_default_accounts_uid_stays_across_node_restarts(tmp_path: Path) -> None:
    first = _account_uid(controller(tmp_path), "kube-system")
    assert first == _account_uid(controller(tmp_path), "kube-system")
    assert first != _account_uid(controller(tmp_path))  # one per namespace


def test_a_pods_plan_carries_the_ca_handed_in_and_its_accounts_uid(tmp_path: Path) -> None:
    """The worker plans with the node's one ApiAccess: the CA read by node/main.py once the
    PKI child ended (it may have renewed it), never a first read kept for the process's life;
    the token signed with the pod's `default` ServiceAccount's uid, found in the store (it was
    minted with an empty uid when the account was looked up among the applied objects)."""
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")  # (never called)
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1",
                        "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"containers": [{"name": "app", "image": "demo:1"}]}}
    for ca in (b"FIRST CA", b"RENEWED CA"):
        node = Controller(NodeContext(config(tmp_path), client, ca_crt=ca), Store(tmp_path))
        assert node.api_access is not None
        worker = PodWorker(node.ctx, PodRecord(pod), node.lookup, node.mark_dirty,
                           api_access=node.api_access)
        plan, error = worker._plan()
        assert error == "" and plan is not None
        files = plan.volumes[0].files
        assert files["ca.crt"] == ca
        subject = verify(signing_key("t"), files["token"].decode())
        assert subject == TokenSubject("default", "default", _account_uid(node), "web", "uid-1")
        again = access_files(pod, node.api_access)
        assert again is not None and again["token"] == files["token"]
    assert controller(tmp_path).api_access is None  # no CA in the context: no API access


def test_a_pods_token_is_minted_once_per_pod_and_account_uid() -> None:
    tokens = PodTokens("t")
    pod = {"metadata": {"name": "web", "namespace": "shop", "uid": "uid-1",
                        "creationTimestamp": "2026-01-01T00:00:00Z"}}
    first = tokens.token(pod, "default", "sa-1")
    assert tokens.token(pod, "default", "sa-1") is first  # kept, not minted again
    other = tokens.token(pod, "default", "sa-2")  # the account was re-created
    subject = verify(signing_key("t"), other)
    assert subject is not None and subject.service_account_uid == "sa-2"
    assert first == PodTokens("t").token(pod, "default", "sa-1")  # deterministic
    for i in range(MINTED_KEPT):  # many pods later: the oldest are dropped, the bound holds
        tokens.token({"metadata": {"uid": f"u{i}"}}, "default", "sa-1")
    assert len(tokens._minted) == MINTED_KEPT
    assert ("uid-1", "sa-1") not in tokens._minted
