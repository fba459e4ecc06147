"""ServiceAccounts users apply (issue 13's follow-up): a pod running as its own account reaches
the API with its token; kubectl creates, patches and deletes them; a user's `default` replaces
the node's (same uid) and a new one comes back when it is deleted; a pod naming a missing account is refused (bare) or
waits (a Deployment's); `up` applies and prunes them."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from localsvc.host.api import Environment
from localsvc.model.incluster import default_account_uid

sys.path.insert(0, str(Path(__file__).parent))
from conftest import DEMO_IMAGE, exec_out, unique_env, wait_for  # noqa: E402
from kubectl_support import Kubectl, kubectl, ns, shared_env  # noqa: E402,F401

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# What an operator's client does: the mounted token and CA, the API by its Service name.
LIST_PODS = f"""
import json, ssl, urllib.request
token = open("{SA_DIR}/token").read()
namespace = open("{SA_DIR}/namespace").read()
tls = ssl.create_default_context(cafile="{SA_DIR}/ca.crt")
request = urllib.request.Request(
    f"https://kubernetes.default.svc/api/v1/namespaces/{{namespace}}/pods",
    headers={{"Authorization": "Bearer " + token}})
with urllib.request.urlopen(request, context=tls, timeout=10) as answer:
    print(json.dumps([p["metadata"]["name"] for p in json.load(answer)["items"]]))
"""


def _account(name: str, namespace: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace}, **fields}


def _pod(name: str, namespace: str, account: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "app", "image": DEMO_IMAGE, "command": ["sleep", "3600"]}]}
    if account is not None:
        spec["serviceAccountName"] = account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def _claims(token: str) -> Any:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _apply(kubectl: Kubectl, *objs: dict[str, Any], check: bool = True) -> Any:
    return kubectl.run("apply", "-f", "-", check=check,
                       stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))


def _ready(kubectl: Kubectl, namespace: str, name: str) -> None:
    kubectl.run("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}",
                "--timeout=60s", request_timeout=None, timeout=70)


def test_a_pod_of_its_own_account_lists_pods_with_its_token(
        kubectl: Kubectl, shared_env: Environment, ns: str) -> None:
    # kubectl sends one request per object, in order: the account first, as Helm orders them.
    _apply(kubectl, _account("my-operator", ns), _pod("operator", ns, "my-operator"))
    _ready(kubectl, ns, "operator")
    listed = json.loads(exec_out(shared_env, "operator", "python3", "-c", LIST_PODS,
                                 namespace=ns))
    assert "operator" in listed
    token = exec_out(shared_env, "operator", "cat", f"{SA_DIR}/token", namespace=ns)
    account = kubectl.json("get", "serviceaccount", "my-operator", "-n", ns)
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{ns}:my-operator"
    assert claims["kubernetes.io"]["serviceaccount"] == {
        "name": "my-operator", "uid": account["metadata"]["uid"]}
    table = kubectl.out("get", "serviceaccounts", "-n", ns)
    assert table.split("\n")[0].split() == ["NAME", "SECRETS", "AGE"]
    assert sorted(line.split()[0] for line in table.strip().split("\n")[1:]) == [
        "default", "my-operator"]


def test_kubectl_creates_patches_and_deletes_one(kubectl: Kubectl, ns: str) -> None:
    assert kubectl.out("create", "serviceaccount", "builder", "-n", ns) == \
        "serviceaccount/builder created\n"
    kubectl.run("patch", "serviceaccount", "builder", "-n", ns, "-p",
                '{"automountServiceAccountToken": false}')
    assert kubectl.json("get", "sa", "builder", "-n", ns)["automountServiceAccountToken"] is False
    refused = kubectl.run("apply", "-f", "-", check=False, stdin=json.dumps(
        _account("builder", ns, automountServiceAccountToken="no")))
    assert refused.returncode != 0 and "automountServiceAccountToken" in refused.stderr
    assert kubectl.out("delete", "serviceaccount", "builder", "-n", ns) == \
        'serviceaccount "builder" deleted\n'
    gone = kubectl.run("get", "sa", "builder", "-n", ns, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


def test_a_users_default_replaces_the_nodes_and_gives_it_back(
        kubectl: Kubectl, shared_env: Environment, ns: str) -> None:
    derived = kubectl.json("get", "sa", "default", "-n", ns)["metadata"]["uid"]
    assert derived == default_account_uid(shared_env.name, ns)
    _apply(kubectl, _account("default", ns, automountServiceAccountToken=False))
    mine = kubectl.json("get", "sa", "default", "-n", ns)
    assert mine["automountServiceAccountToken"] is False and mine["metadata"]["uid"] == derived
    _apply(kubectl, _pod("quiet", ns))
    _ready(kubectl, ns, "quiet")
    assert exec_out(shared_env, "quiet", "sh", "-c", f"ls {SA_DIR} 2>&1 || true",
                    namespace=ns).strip().endswith("No such file or directory")
    kubectl.run("delete", "sa", "default", "-n", ns)
    back = wait_for(lambda: (lambda o: o if "automountServiceAccountToken" not in o else None)(
        kubectl.json("get", "sa", "default", "-n", ns)), timeout=15, what="the node's default")
    assert back["metadata"]["uid"] != derived  # a new object, as the controller makes it


def test_a_pod_naming_a_missing_account_is_refused_or_waits(
        kubectl: Kubectl, shared_env: Environment, ns: str) -> None:
    refused = _apply(kubectl, _pod("bare", ns, "missing"), check=False)
    assert refused.returncode != 0
    assert (f'pods "bare" is forbidden: error looking up service account {ns}/missing: '
            'serviceaccount "missing" not found') in refused.stderr
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": ns},
                  "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                      "metadata": {"labels": {"app": "web"}},
                      "spec": _pod("x", ns, "later")["spec"]}}}
    _apply(kubectl, deployment)

    def waiting() -> Any:
        pods = kubectl.json("get", "pods", "-n", ns, "-l", "app=web")["items"]
        states = [c.get("state", {}).get("waiting", {}) for p in pods
                  for c in p.get("status", {}).get("containerStatuses") or []]
        return states if states and states[0].get("reason") == "CreateContainerConfigError" \
            else None

    [state] = wait_for(waiting, timeout=30, what="the pod waiting for its account")
    assert state["message"] == (f"error looking up service account {ns}/later: "
                                'serviceaccount "later" not found')
    _apply(kubectl, _account("later", ns))
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod", "-l", "app=web",
                "--timeout=60s", request_timeout=None, timeout=70)
    [pod] = kubectl.json("get", "pods", "-n", ns, "-l", "app=web")["items"]
    listed = json.loads(exec_out(shared_env, pod["metadata"]["name"], "python3", "-c",
                                 LIST_PODS, namespace=ns))
    assert pod["metadata"]["name"] in listed


def test_up_applies_and_prunes_them(node_image: str, demo_image: str, tmp_path: Path) -> None:
    env = Environment(unique_env("sa"), node_image=node_image)
    try:
        first = tmp_path / "first.yaml"
        first.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
            _pod("op", "default", "op"), _account("op", "default")]}))  # one set, any order
        report = env.up([first], wait=60)
        assert {"kind": "ServiceAccount", "namespace": "default", "name": "op",
                "action": "created"} in report.results
        assert report.skipped == []
        listed = json.loads(exec_out(env, "op", "python3", "-c", LIST_PODS))
        assert "op" in listed
        second = tmp_path / "second.yaml"
        second.write_text(json.dumps(_account("other", "default")))
        report = env.up([second], wait=None)
        assert {"kind": "ServiceAccount", "namespace": "default", "name": "op",
                "action": "deleted"} in report.results
        names = sorted(o["metadata"]["name"] for o in env.get("ServiceAccount"))
        assert names == ["default", "other"]
    finally:
        env.down()
