"""ServiceAccounts users apply: loaded and validated like ConfigMaps, stored and published in
place of the node's derived `default`, pruned, and required by the pods that name them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localsvc.errors import ManifestError
from localsvc.model.incluster import ApiAccess, access_files, default_account_uid
from localsvc.model.load import load_text
from localsvc.model.podplan import ConfigError, plan_pod
from localsvc.model.satoken import TokenSubject, mint, signing_key
from localsvc.model.validate import validate
from localsvc.node.changes import Staged, prepare
from localsvc.node.controller import Controller
from localsvc.node.kubeapi.writes import STORED_KINDS
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord
from tests.unit.node_builders import controller, manifests
from tests.unit.test_incluster_node import _statuses

Obj = dict[str, Any]
PATH = ["/api/v1/namespaces/default/services"]


def _account(name: str, namespace: str = "default", **fields: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace}, **fields}


def _pod(name: str, account: str | None = None, field: str = "serviceAccountName") -> Obj:
    spec: Obj = {"containers": [{"name": "app", "image": "demo:1"}]}
    if account is not None:
        spec[field] = account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def _problems(text: str) -> list[tuple[int | None, str, str]]:
    loaded = load_text(text, "sa.yaml")
    assert loaded.problems == [] and loaded.skipped == []
    return [(p.line, p.path, p.message) for p in validate(loaded.manifests)]


# ---------------------------------------------------------------- load and validate


def test_a_service_account_is_loaded_not_skipped_and_stored_through_the_api() -> None:
    """Regression: it was reported as skipped, and the API answered 405 on create."""
    loaded = load_text("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: op\n", "a.yaml")
    assert [m.key.id for m in loaded.manifests] == ["ServiceAccount/default/op"]
    assert loaded.skipped == [] and loaded.problems == []
    assert "ServiceAccount" in STORED_KINDS
    wrong = load_text("apiVersion: apps/v1\nkind: ServiceAccount\nmetadata:\n  name: op\n", "a")
    assert [(p.path, p.message) for p in wrong.problems] == [
        ("apiVersion", '"apps/v1" is not served for ServiceAccount; use v1')]


def test_a_well_formed_service_account_has_no_problems() -> None:
    assert _problems("""apiVersion: v1
kind: ServiceAccount
metadata:
  name: operator
  namespace: tools
  labels: {app: op}
automountServiceAccountToken: false
secrets:
- name: op-token
  namespace: tools
imagePullSecrets:
- name: registry
""") == []


def test_field_types_are_checked_with_line_and_path() -> None:
    found = _problems("""apiVersion: v1
kind: ServiceAccount
metadata:
  name: Operator
automountServiceAccountToken: "false"
secrets: op-token
imagePullSecrets:
- name: 7
- nam: registry
""")
    assert found[0][:2] == (4, "metadata.name") and "lower case" in found[0][2]
    assert (5, "automountServiceAccountToken", 'must be true or false (got "false")') in found
    assert (6, "secrets", 'must be a list (got "op-token")') in found
    assert (8, "imagePullSecrets[0].name", "must be a string; quote it (got 7)") in found
    assert (9, "imagePullSecrets[1].nam",
            'unknown field "nam"; did you mean "name"?') in found
    assert len(found) == 5


def test_unknown_keys_are_refused_at_the_top_and_in_secrets() -> None:
    found = _problems("""apiVersion: v1
kind: ServiceAccount
metadata:
  name: op
automountServiceAccountTokens: false
secrets:
- name: op-token
  key: x
""")
    assert [(line, path) for line, path, _ in found] == [
        (5, "automountServiceAccountTokens"), (8, "secrets[0].key")]
    assert 'did you mean "automountServiceAccountToken"?' in found[0][2]


# ---------------------------------------------------------------- the node


def _uid(node: Any, name: str, namespace: str = "default") -> str | None:
    stored = node.objects.get(f"ServiceAccount/{namespace}/{name}")
    return None if stored is None else str(stored["metadata"]["uid"])


def _token(name: str, uid: str | None) -> str:
    return mint(signing_key("env-secret"), TokenSubject("default", name, uid or ""), 1)


def test_an_applied_account_is_published_and_its_tokens_open_the_api(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(_account("operator")), prune=False)
    node.sync()
    stored = node.objects.get("ServiceAccount/default/operator")
    assert stored is not None
    uid = node.state.objects["ServiceAccount/default/operator"]["metadata"]["uid"]
    assert stored["metadata"]["uid"] == uid  # the store's uid is the applied object's
    token = _token("operator", uid)
    assert _statuses(node, token, PATH) == [200]
    node.delete(["ServiceAccount/default/operator"])
    node.sync()
    assert node.objects.get("ServiceAccount/default/operator") is None
    assert _statuses(node, token, PATH) == [401]  # its account is gone


def test_an_applied_default_replaces_the_derived_one_with_its_uid(tmp_path: Path) -> None:
    """Regression: both were published under one key by two groups; the derived group's
    publish would delete the applied one."""
    node = controller(tmp_path)
    derived_uid = default_account_uid("unit", "default")
    assert _uid(node, "default") == derived_uid
    node.apply(manifests(_account("default", automountServiceAccountToken=False)), prune=False)
    node.sync()
    node.sync()
    stored = node.objects.get("ServiceAccount/default/default")
    assert stored is not None and stored["automountServiceAccountToken"] is False
    assert stored["metadata"]["uid"] == derived_uid  # running pods' tokens stay valid
    assert _statuses(node, _token("default", derived_uid), PATH) == [200]
    node.delete(["ServiceAccount/default/default"])
    node.sync()
    back = node.objects.get("ServiceAccount/default/default")
    assert back is not None and "automountServiceAccountToken" not in back
    # Re-created as a new object, as the cluster's controller does: kubectl delete waits for
    # the uid to change, and the old tokens are refused.
    assert back["metadata"]["uid"] == default_account_uid("unit", "default", 1) != derived_uid
    assert _statuses(node, _token("default", derived_uid), PATH) == [401]
    assert _uid(node, "default", "kube-system") == default_account_uid("unit", "kube-system")


def test_the_nodes_default_deleted_comes_back_with_a_new_uid_kept_across_restarts(
        tmp_path: Path) -> None:
    """Regression: kubectl delete of `default` waited forever (its uid never changed)."""
    node = controller(tmp_path)
    before = _uid(node, "default")
    results = node.delete(["ServiceAccount/default/default"])
    assert [r["action"] for r in results] == ["deleted"]
    node.sync()
    after = _uid(node, "default")
    assert after is not None and after != before
    assert _uid(controller(tmp_path), "default") == after  # the count is in the state file
    node.apply(manifests(_account("default")), prune=False)  # an update of that object
    node.sync()
    assert _uid(node, "default") == after


def test_a_prune_removes_applied_accounts_and_keeps_the_derived_defaults(
        tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(_account("operator"), _account("default")), prune=True)
    node.sync()
    assert _uid(node, "operator") is not None
    results = node.apply(manifests(_account("other")), prune=True)
    node.sync()
    deleted = sorted(r["name"] for r in results if r["action"] == "deleted")
    assert deleted == ["default", "operator"]
    assert _uid(node, "operator") is None and _uid(node, "other") is not None
    assert _uid(node, "default") == default_account_uid("unit", "default")


def _check(node: Controller, *objs: Obj) -> Staged:
    """What applying `objs` would store (the API's dryRun path): raises as the apply would."""
    given = manifests(*objs)
    return node.check(given, prepare(given, node.state.objects))


def test_a_new_pod_naming_a_missing_account_is_refused_with_the_fix(tmp_path: Path) -> None:
    node = controller(tmp_path)
    for field in ("serviceAccountName", "serviceAccount"):
        with pytest.raises(ManifestError) as raised:
            _check(node, _pod("web", "operator", field))
        [problem] = raised.value.problems
        assert (problem.file, problem.path) == ("t.yaml", f"spec.{field}")
        assert problem.message.startswith('error looking up service account default/operator: '
                                          'serviceaccount "operator" not found; apply the '
                                          'ServiceAccount with the pod')
        assert "kubectl create serviceaccount operator -n default" in problem.message
    assert "Pod/default/web" not in node.state.objects


def test_a_pod_with_its_account_in_the_same_apply_or_stored_is_accepted(tmp_path: Path) -> None:
    node = controller(tmp_path)
    staged = _check(node, _pod("web", "operator"), _account("operator"))
    assert "Pod/default/web" in staged.state.objects
    assert _check(node, _pod("web", "default"))
    assert _check(node, _pod("web"))
    node.apply(manifests(_account("operator")), prune=False)
    assert _check(node, _pod("web", "operator"))
    with pytest.raises(ManifestError):  # pruned by the same apply: its pod is refused
        node.apply(manifests(_pod("web", "operator")), prune=True)
    assert "ServiceAccount/default/operator" in node.state.objects  # nothing was changed


# ---------------------------------------------------------------- pods of a Deployment


def _access(accounts: dict[tuple[str, str], Obj]) -> ApiAccess:
    return ApiAccess(env={}, ca_crt=b"CA", token=lambda pod, name, uid: f"{name}:{uid}",
                     service_accounts=lambda ns, n: accounts.get((ns, n)))


def test_a_pod_whose_account_is_missing_waits_with_the_api_servers_words() -> None:
    pod = {**_pod("web-1", "operator"), "metadata": {"name": "web-1", "namespace": "default",
                                                      "uid": "u1"}}
    with pytest.raises(ConfigError, match='^error looking up service account default/operator: '
                                          'serviceaccount "operator" not found$'):
        access_files(pod, _access({}))
    with pytest.raises(ConfigError):
        plan_pod(pod, lambda ns, n: None, lambda ns, n: None, api_access=_access({}))
    account = {"metadata": {"uid": "a-uid"}}
    files = access_files(pod, _access({("default", "operator"): account}))
    assert files is not None and files["token"] == b"operator:a-uid"
    quiet = {"metadata": {"uid": "a-uid"}, "automountServiceAccountToken": False}
    assert access_files(pod, _access({("default", "operator"): quiet})) is None


def test_the_worker_reports_the_missing_account_then_plans_once_it_exists(
        tmp_path: Path) -> None:
    import docker

    from localsvc.node.context import NodeContext
    from localsvc.node.store import Store
    from tests.unit.node_builders import config

    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")  # (never called)
    node = Controller(NodeContext(config(tmp_path), client, ca_crt=b"CA"), Store(tmp_path))
    assert node.api_access is not None
    pod = {"metadata": {"name": "web-1", "namespace": "default", "uid": "u1",
                        "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"serviceAccountName": "operator",
                    "containers": [{"name": "app", "image": "demo:1"}]}}
    worker = PodWorker(node.ctx, PodRecord(pod), node.lookup, node.mark_dirty,
                       api_access=node.api_access)
    plan, error = worker._plan()
    assert plan is None and error == ('error looking up service account default/operator: '
                                      'serviceaccount "operator" not found')
    node.apply(manifests(_account("operator")), prune=False)
    node.sync()
    plan, error = worker._plan()
    assert error == "" and plan is not None
    assert plan.volumes[0].files["namespace"] == b"default"
