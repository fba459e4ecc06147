"""How the Kubernetes API is reached: HTTPS with the environment's own CA from the host and, on
the node's IP port 443, from inside the environment; a token on every call but the public ones;
`localsvc kubeconfig` and `down` writing and removing the context in the file kubectl reads."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from localsvc.host.api import Environment
from localsvc.net.direct import open_direct
from tests.integration.conftest import DEMO_IMAGE, exec_out, localsvc, write


def test_the_api_is_https_with_the_environments_ca_and_refuses_no_token(
        env: Environment, tmp_path: Path) -> None:
    env.ensure()
    address = env.node().address
    assert address.url.startswith("https://127.0.0.1:")
    with open_direct(address.join("/version"), timeout=10,
                     context=address.ssl_context) as response:  # public, as on a cluster
        assert json.load(response)["gitVersion"].startswith("v1.32.0+localsvc.")
    with pytest.raises(urllib.error.HTTPError) as refused:
        open_direct(address.join("/api/v1/pods"), timeout=10, context=address.ssl_context)
    status = json.load(refused.value)
    assert (refused.value.code, status["kind"], status["reason"]) == (401, "Status",
                                                                       "Unauthorized")
    # Another CA (the system's) does not trust the node: the token would never be sent.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        open_direct(address.join("/version"), timeout=10, context=ssl.create_default_context())


def test_pods_reach_the_api_on_the_node_ip_port_443_verified_by_the_ca(
        env: Environment, tmp_path: Path) -> None:
    env.ensure()
    ca = env.node().address.ca_pem.decode()
    node_ip = env.info().node_ip
    manifest = write(tmp_path, "pod.yaml", yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca"},
         "data": {"ca.crt": ca}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
         "spec": {"containers": [{
             "name": "c", "image": DEMO_IMAGE, "args": ["serve", "--port", "9000"],
             "volumeMounts": [{"name": "ca", "mountPath": "/ca"}]}],
             "volumes": [{"name": "ca", "configMap": {"name": "ca"}}]}}]))
    env.up([manifest], wait=60)
    fetch = (
        "import json,ssl,urllib.request;"
        "ctx=ssl.create_default_context(cafile='/ca/ca.crt');"
        f"print(json.load(urllib.request.urlopen('https://{node_ip}/version',context=ctx,"
        "timeout=10))['major'])")
    assert exec_out(env, "client", "python3", "-c", fetch).strip() == "1"


def test_kubeconfig_write_and_down_manage_the_context(env: Environment, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env.ensure()
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "mine",
        "contexts": [{"name": "mine", "context": {"cluster": "mine", "user": "mine"}}],
        "clusters": [{"name": "mine", "cluster": {"server": "https://192.0.2.1"}}],
        "users": [{"name": "mine", "user": {"token": "x"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))  # never the user's ~/.kube/config
    printed = localsvc(env, "kubeconfig").stdout
    assert yaml.safe_load(printed)["current-context"] == f"localsvc-{env.name}"
    localsvc(env, "kubeconfig", "--write")
    names = subprocess.run(["kubectl", "config", "get-contexts", "-o", "name"],
                           capture_output=True, text=True, check=True, timeout=30,
                           ).stdout.split()
    assert sorted(names) == sorted(["mine", f"localsvc-{env.name}"])
    got = subprocess.run(["kubectl", "get", "ns", "default", "-o", "name",
                          "--request-timeout=20s"], capture_output=True, text=True,
                         timeout=30)
    assert got.returncode == 0 and got.stdout.strip() == "namespace/default", got.stderr
    localsvc(env, "down")
    config = yaml.safe_load(kubeconfig.read_text())
    assert [c["name"] for c in config["contexts"]] == ["mine"]
    assert [c["name"] for c in config["clusters"]] == ["mine"]
