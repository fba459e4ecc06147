"""The API from inside pods (issue 13): the `kubernetes` Service of default, the variables and
the service-account files every pod gets, the official client's in-cluster configuration and
curl with the mounted token and CA, and tokens refused where they do not belong."""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from localsvc.host.api import Environment
from localsvc.model.allocation import kubernetes_ip
from localsvc.model.network import plan_for
from localsvc.runtime import environment as envrt
from localsvc.runtime.image_build import build_if_changed
from localsvc.runtime.wheels import download_wheels

sys.path.insert(0, str(Path(__file__).parent))
from conftest import ROOT, exec_out, unique_env, wait_for  # noqa: E402
from kubectl_support import Kubectl, kubectl, ns, shared_env  # noqa: E402,F401

CONTEXT = ROOT / "tests" / "integration" / "data" / "incluster"
IMAGE = "localsvc-tests/incluster:1"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="session")
def incluster_image(docker_client: docker.DockerClient) -> str:
    """Built once (cached by content): the Dockerfile and the host-downloaded wheels."""
    wheels = download_wheels(["kubernetes"], lambda m: print(m, file=sys.stderr))
    with tempfile.TemporaryDirectory() as directory:
        context = Path(directory)
        shutil.copy(CONTEXT / "Dockerfile", context / "Dockerfile")
        (context / "wheels").mkdir()
        for wheel in sorted(wheels.glob("*.whl")):
            shutil.copy(wheel, context / "wheels" / wheel.name)
        build_if_changed(docker_client, context, IMAGE, lambda m: print(m, file=sys.stderr))
    return IMAGE


def _pod(kubectl: Kubectl, namespace: str, name: str, **spec: Any) -> str:
    manifest = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "app", "image": IMAGE}], **spec}}
    kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest))
    kubectl.run("wait", "-n", namespace, "--for=condition=Ready", f"pod/{name}",
                "--timeout=60s", request_timeout=None, timeout=70)
    return name


def _first_address(env: Environment) -> str:
    """The first address of the environment's ClusterIP range."""
    info = envrt.find(env.docker, env.name)
    assert info is not None
    return kubernetes_ip(str(plan_for(info.subnet).cluster_ip_range))


def _sh(env: Environment, pod: str, script: str, namespace: str) -> str:
    return exec_out(env, pod, "sh", "-c", script, namespace=namespace)


def _api(env: Environment, path: str, token: str) -> tuple[int, Any]:
    """GET `path` of the environment's API from the host, with `token`."""
    cluster = env.kubeconfig()["clusters"][0]["cluster"]
    tls = ssl.create_default_context(cadata=base64.b64decode(
        cluster["certificate-authority-data"]).decode())
    request = urllib.request.Request(cluster["server"] + path,
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, context=tls, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="module")
def api_pod(kubectl: Kubectl, shared_env: Environment, incluster_image: str) -> Iterator[str]:
    """A pod of default running the client image (the module's other pods live in their own
    namespaces)."""
    name = _pod(kubectl, "default", f"api-{uuid.uuid4().hex[:6]}")
    yield name
    kubectl.run("delete", "pod", name, "--wait=false", check=False)


def test_the_official_client_configures_itself_in_cluster(shared_env: Environment,
                                                          api_pod: str) -> None:
    script = ("python3 -c 'from kubernetes import client, config; "
              "config.load_incluster_config(); "
              "print(*[p.metadata.name for p in client.CoreV1Api()"
              ".list_namespaced_pod(\"default\", _request_timeout=10).items])'")
    assert api_pod in _sh(shared_env, api_pod, script, "default").split()


def test_curl_with_the_mounted_token_and_ca(shared_env: Environment, api_pod: str) -> None:
    for host in ("kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "kubernetes"):
        out = _sh(shared_env, api_pod,
                  f'curl -sS --max-time 10 --cacert {SA_DIR}/ca.crt -H "Authorization: Bearer '
                  f'$(cat {SA_DIR}/token)" https://{host}/api/v1/namespaces/default/pods',
                  "default")
        listing = json.loads(out)
        assert listing["kind"] == "PodList"
        assert api_pod in [p["metadata"]["name"] for p in listing["items"]]
    # Without the token: 401 as a Status, as the API server answers.
    out = _sh(shared_env, api_pod, f"curl -sS --max-time 10 --cacert {SA_DIR}/ca.crt "
              "https://kubernetes.default.svc/api/v1/namespaces/default/pods", "default")
    assert json.loads(out)["code"] == 401


def test_the_kubernetes_service_is_the_first_address(kubectl: Kubectl,
                                                     shared_env: Environment,
                                                     api_pod: str) -> None:
    first = _first_address(shared_env)
    service = kubectl.json("get", "svc", "kubernetes", "-n", "default", "-o", "json")
    assert service["spec"]["clusterIP"] == first
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP",
                                         "targetPort": 443}]
    endpoints = kubectl.json("get", "endpoints", "kubernetes", "-n", "default", "-o", "json")
    assert endpoints["subsets"][0]["ports"][0]["port"] == 443
    # The pod reaches the API by the ClusterIP itself (the dataplane carries it to the node).
    out = _sh(shared_env, api_pod, f"curl -sS --max-time 10 --cacert {SA_DIR}/ca.crt "
              f"-H \"Authorization: Bearer $(cat {SA_DIR}/token)\" https://{first}/version",
              "default")
    assert "gitVersion" in json.loads(out)


def test_deleted_it_comes_back_and_a_manifest_cannot_take_it(kubectl: Kubectl) -> None:
    before = kubectl.json("get", "svc", "kubernetes", "-o", "json")["metadata"]["uid"]
    kubectl.run("delete", "svc", "kubernetes")
    again = wait_for(lambda: kubectl.run("get", "svc", "kubernetes", "-o", "json",
                                         check=False).stdout, timeout=15, what="re-created")
    assert json.loads(again)["metadata"]["uid"] != before
    taken = {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "kubernetes", "namespace": "default"},
             "spec": {"selector": {"app": "mine"}, "ports": [{"name": "https", "port": 443}]}}
    refused = kubectl.run("apply", "-f", "-", stdin=json.dumps(taken), check=False)
    assert refused.returncode != 0 and "environment's own" in refused.stderr
    service = kubectl.json("get", "svc", "kubernetes", "-o", "json")
    assert "selector" not in service["spec"]


def test_variables_in_another_namespace_even_without_service_links(
        kubectl: Kubectl, shared_env: Environment, ns: str, incluster_image: str) -> None:
    pod = _pod(kubectl, ns, "vars", enableServiceLinks=False)
    first = _first_address(shared_env)
    env = dict(line.split("=", 1) for line in _sh(shared_env, pod, "env", ns).splitlines()
               if "=" in line)
    assert {k: v for k, v in env.items() if k.startswith("KUBERNETES_")} == {
        "KUBERNETES_SERVICE_HOST": first, "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443", "KUBERNETES_PORT": f"tcp://{first}:443",
        "KUBERNETES_PORT_443_TCP": f"tcp://{first}:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": first}
    assert _sh(shared_env, pod, f"cat {SA_DIR}/namespace", ns) == ns
    # Read-only, as the projected volume is.
    assert exec_out(shared_env, pod, "sh", "-c",
                    f"touch {SA_DIR}/x 2>/dev/null && echo writable || echo read-only",
                    namespace=ns).strip() == "read-only"


def test_a_deleted_pods_token_is_refused(kubectl: Kubectl, shared_env: Environment, ns: str,
                                         incluster_image: str) -> None:
    pod = _pod(kubectl, ns, "short-lived")
    token = _sh(shared_env, pod, f"cat {SA_DIR}/token", ns)
    assert _api(shared_env, f"/api/v1/namespaces/{ns}/pods", token)[0] == 200
    kubectl.run("delete", "pod", "-n", ns, pod, "--grace-period=0", "--force")
    wait_for(lambda: _api(shared_env, f"/api/v1/namespaces/{ns}/pods", token)[0] == 401,
             timeout=20, what="the token of the deleted pod refused")


def test_automount_false_leaves_no_token(kubectl: Kubectl, shared_env: Environment, ns: str,
                                         incluster_image: str) -> None:
    pod = _pod(kubectl, ns, "quiet", automountServiceAccountToken=False)
    assert _sh(shared_env, pod, f"ls {SA_DIR} 2>&1 || true", ns).strip().endswith(
        "No such file or directory")


def test_a_token_reaches_only_its_own_environments_kubernetes_api(
        shared_env: Environment, api_pod: str, node_image: str, incluster_image: str,
        tmp_path: Path) -> None:
    token = _sh(shared_env, api_pod, f"cat {SA_DIR}/token", "default")
    status, listing = _api(shared_env, "/api/v1/namespaces/default/pods", token)
    assert status == 200 and listing["kind"] == "PodList"
    status, _ = _api(shared_env, "/v1/status", token)  # the CLI's private routes: not a pod's
    assert status == 401
    # Environment B (with the userspace proxy: the other dataplane carries its kubernetes
    # Service too) refuses A's token, and takes its own pods'.
    other = Environment(unique_env("b"), node_image=node_image, proxy_mode="userspace")
    try:
        other.ensure()
        status, answer = _api(other, "/api/v1/namespaces/default/pods", token)
        assert status == 401 and answer["reason"] == "Unauthorized"
        manifest = tmp_path / "pod.yaml"
        manifest.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b-client"},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": IMAGE}]}}))
        other.apply([manifest], wait=60)
        out = _sh(other, "b-client",
                  f'curl -sS --max-time 10 --cacert {SA_DIR}/ca.crt -H "Authorization: Bearer '
                  f'$(cat {SA_DIR}/token)" https://$KUBERNETES_SERVICE_HOST:'
                  '$KUBERNETES_SERVICE_PORT/api/v1/namespaces/default/pods', "default")
        assert "b-client" in [p["metadata"]["name"] for p in json.loads(out)["items"]]
        assert _api(shared_env, "/api/v1/namespaces/default/pods",
                    _sh(other, "b-client", f"cat {SA_DIR}/token", "default"))[0] == 401
    finally:
        other.down()


def test_a_running_pods_token_still_opens_the_api_after_the_node_restarts(
        node_image: str, incluster_image: str, tmp_path: Path) -> None:
    """The token carries its `default` ServiceAccount's uid, which the node checks: that uid
    (and the CA the pod holds) must outlive a node process, or every adopted pod's token would
    be refused after a restart."""
    env = Environment(unique_env("r"), node_image=node_image)
    try:
        env.ensure()
        manifest = tmp_path / "pod.yaml"
        manifest.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": IMAGE}]}}))
        env.apply([manifest], wait=60)
        token = _sh(env, "client", f"cat {SA_DIR}/token", "default")
        ca = _sh(env, "client", f"cat {SA_DIR}/ca.crt", "default")
        assert _api(env, "/api/v1/namespaces/default/pods", token)[0] == 200
        env.docker.containers.get(f"localsvc-{env.name}-node").restart(timeout=10)
        env.ensure()
        wait_for(lambda: _api(env, "/api/v1/namespaces/default/pods", token)[0] == 200,
                 timeout=30, what="the adopted pod's token taken by the restarted node")
        out = _sh(env, "client",
                  f'curl -sS --max-time 10 --cacert {SA_DIR}/ca.crt -H "Authorization: Bearer '
                  f'$(cat {SA_DIR}/token)" https://$KUBERNETES_SERVICE_HOST:'
                  '$KUBERNETES_SERVICE_PORT/api/v1/namespaces/default/pods', "default")
        assert "client" in [p["metadata"]["name"] for p in json.loads(out)["items"]]
        assert _sh(env, "client", f"cat {SA_DIR}/ca.crt", "default") == ca
    finally:
        env.down()
