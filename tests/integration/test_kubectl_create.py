"""kubectl commands whose typed clients send protobuf request bodies (`create configmap`, `run`,
`create deployment`, `create namespace`): against a real environment, as against a cluster.
They failed while the node could not decode protobuf bodies."""

from __future__ import annotations

import json
import re
import uuid

from tests.integration.conftest import DEMO_IMAGE, wait_for
from tests.integration.kubectl_support import Kubectl, kubectl, ns, shared_env  # noqa: F401


def test_create_namespace(kubectl: Kubectl) -> None:
    name = f"made-{uuid.uuid4().hex[:6]}"
    assert kubectl.out("create", "namespace", name) == f"namespace/{name} created\n"
    try:
        assert kubectl.json("get", "namespace", name)["status"]["phase"] == "Active"
    finally:
        kubectl.run("delete", "namespace", name, "--wait=false", check=False)


def test_create_configmap_from_literal_then_label_annotate_patch(kubectl: Kubectl, ns: str) -> None:
    assert kubectl.out("create", "configmap", "x", "-n", ns, "--from-literal=a=b") == \
        "configmap/x created\n"
    assert kubectl.json("get", "cm", "x", "-n", ns)["data"] == {"a": "b"}
    again = kubectl.run("create", "configmap", "x", "-n", ns, "--from-literal=a=b", check=False)
    assert again.returncode == 1
    assert again.stderr.strip() == \
        'error: failed to create configmap: configmaps "x" already exists', again.stderr
    kubectl.run("label", "-n", ns, "cm", "x", "team=blue")
    kubectl.run("annotate", "-n", ns, "cm", "x", "note=hi")
    kubectl.run("patch", "-n", ns, "cm", "x", "--type=merge", "-p", '{"data":{"m":"1"}}')
    kubectl.run("patch", "-n", ns, "cm", "x", "--type=json", "-p",
                '[{"op":"replace","path":"/data/a","value":"c"}]')
    kubectl.run("patch", "-n", ns, "cm", "x", "-p", '{"data":{"s":"2"}}')
    live = kubectl.json("get", "cm", "x", "-n", ns)
    assert live["data"] == {"a": "c", "m": "1", "s": "2"}
    assert live["metadata"]["labels"] == {"team": "blue"}
    assert live["metadata"]["annotations"] == {"note": "hi"}


def test_create_secret_generic(kubectl: Kubectl, ns: str) -> None:
    assert kubectl.out("create", "secret", "generic", "s", "-n", ns, "--from-literal=k=v") == \
        "secret/s created\n"
    secret = kubectl.json("get", "secret", "s", "-n", ns)
    assert secret["type"] == "Opaque" and secret["data"] == {"k": "dg=="}


def test_run_a_pod(kubectl: Kubectl, ns: str) -> None:
    out = kubectl.out("run", "solo", "-n", ns, f"--image={DEMO_IMAGE}", "--labels=app=solo",
                      "--", "serve", "--port", "8080")
    assert out == "pod/solo created\n"
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/solo", "--timeout=60s",
                request_timeout=None, timeout=70)
    pod = kubectl.json("get", "pod", "solo", "-n", ns)
    assert pod["metadata"]["labels"] == {"app": "solo"}
    assert pod["spec"]["containers"][0]["args"] == ["serve", "--port", "8080"]
    assert pod["status"]["phase"] == "Running"


def test_create_deployment_and_expose_it(kubectl: Kubectl, ns: str) -> None:
    out = kubectl.out("create", "deployment", "web", "-n", ns, f"--image={DEMO_IMAGE}",
                      "--replicas=2", "--port=8080", "--", "python3", "/app/demo.py", "serve",
                      "--port", "8080")
    assert out == "deployment.apps/web created\n"
    status = kubectl.out("rollout", "status", "-n", ns, "deploy/web", "--timeout=60s",
                         request_timeout=None, timeout=70)
    assert status.endswith('deployment "web" successfully rolled out\n')
    assert kubectl.out("expose", "-n", ns, "deployment", "web", "--port=80",
                       "--target-port=8080") == "service/web exposed\n"
    service = kubectl.json("get", "svc", "web", "-n", ns)
    assert service["spec"]["selector"] == {"app": "web"}
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", service["spec"]["clusterIP"])

    def endpoints() -> list[str]:
        ep = kubectl.json("get", "endpoints", "web", "-n", ns)
        return [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]

    wait_for(lambda: len(endpoints()) == 2, timeout=20, what="two ready endpoints")
    deploy = kubectl.json("get", "deploy", "web", "-n", ns)
    assert json.dumps(deploy["status"]["conditions"]).count('"status": "True"') == 2
