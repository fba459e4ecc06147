"""The real kubectl (v1.32, /usr/bin/kubectl) POSTs objects as Kubernetes protobuf (`kubectl create
KIND`; `kubectl run` sends JSON); localsvc's decode_request turns each body into exactly the
object kubectl prints as JSON for the same command with --dry-run=client -o json.

A tiny aiohttp app on 127.0.0.1 serves legacy discovery (core v1 and apps/v1 from
localsvc.model.kubeapi.discovery, batch/v1 written here) and answers each POST with the decoded
object (400 when it does not decode), recording the Content-Type and body.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from localsvc.model.kubeapi import discovery
from localsvc.model.kubeapi.protobuf import ProtobufError, decode_request, is_protobuf
from tests.net.kubectl_server import (
    Handler,
    kubectl_home,
    requires_kubectl,
    run_kubectl,
    serving,
)

pytestmark = requires_kubectl

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def resource(plural: str, kind: str) -> dict[str, Any]:
    return {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
            "verbs": VERBS}


# Kinds the next issues serve, in legacy discovery here so kubectl can create them.
EXTRA_GROUPS = {
    "batch/v1": [resource("jobs", "Job"), resource("cronjobs", "CronJob")],
    "networking.k8s.io/v1": [resource("ingresses", "Ingress")],
    "policy/v1": [resource("poddisruptionbudgets", "PodDisruptionBudget")],
}
EXTRA_CORE = [resource("resourcequotas", "ResourceQuota")]


@dataclass
class Capture:
    port: int
    tmp: Path
    kubeconfig: Path
    posts: list[tuple[str, str, bytes]] = field(default_factory=list)  # path, type, body
    lock: threading.Lock = field(default_factory=threading.Lock)

    def taken(self) -> list[tuple[str, str, bytes]]:
        with self.lock:
            taken, self.posts = self.posts, []
            return taken


def legacy_discovery(path: str, port: int) -> dict[str, Any] | None:
    if path == "/api":
        return discovery.api_versions(f"127.0.0.1:{port}")
    if path == "/apis":
        groups = discovery.api_group_list()
        extra = [{"name": group_version.split("/")[0],
                  "versions": [{"groupVersion": group_version, "version": "v1"}],
                  "preferredVersion": {"groupVersion": group_version, "version": "v1"}}
                 for group_version in EXTRA_GROUPS]
        return {**groups, "groups": [*groups["groups"], *extra]}
    if path.removeprefix("/apis/") in EXTRA_GROUPS:
        group_version = path.removeprefix("/apis/")
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": EXTRA_GROUPS[group_version]}
    parts = path.strip("/").split("/")
    if path == "/api/v1":
        core = discovery.api_resource_list("", "v1")
        assert core is not None
        return {**core, "resources": [*core["resources"], *EXTRA_CORE]}
    if parts[0] == "apis" and len(parts) == 3:
        return discovery.api_resource_list(parts[1], parts[2])
    if parts[0] == "apis" and len(parts) == 2:
        return discovery.api_group(parts[1])
    return None


def capture_handler(capture: Capture) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await request.read()
            content_type = request.headers.get("Content-Type", "")
            with capture.lock:
                capture.posts.append((request.path, content_type, body))
            try:
                obj = decode_request(body) if is_protobuf(content_type) else json.loads(body)
            except (ProtobufError, ValueError) as error:
                return web.json_response({"kind": "Status", "apiVersion": "v1",
                                          "status": "Failure", "message": str(error),
                                          "reason": "BadRequest", "code": 400}, status=400)
            obj.setdefault("metadata", {}).update(uid="1", resourceVersion="1")
            if obj.get("kind") == "TokenRequest":  # kubectl create token prints the token
                obj["status"] = {"token": "t0k3n", "expirationTimestamp": "2030-01-01T00:00:00Z"}
            return web.json_response(obj, status=201)
        document = legacy_discovery(request.path.rstrip("/") or "/", capture.port)
        if document is None:
            return web.Response(status=404)
        return web.json_response(document)

    return handle


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    tmp, port, kubeconfig = kubectl_home(tmp_path_factory, "kubectl-protobuf", "default")
    write_input_files(tmp)
    server = Capture(port, tmp, kubeconfig)
    with serving(capture_handler(server), port):
        yield server


def write_input_files(directory: Path) -> None:
    """The files the commands read: a text and a binary file, an env file, a TLS pair."""
    (directory / "conf.txt").write_text("line one\nline two\n")
    (directory / "blob.bin").write_bytes(bytes(range(256)))  # not UTF-8: binaryData
    (directory / "app.env").write_text("# comment\nMODE=fast\nEMPTY=\n")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localsvc.test")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    (directory / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def kubectl(capture: Capture, *args: str) -> str:
    result = run_kubectl(capture.kubeconfig, capture.tmp, *args, cache=capture.tmp / "cache",
                         cwd=capture.tmp)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


COMMANDS = {
    "configmap": ["create", "configmap", "x", "--from-literal=a=b", "--from-file=conf.txt",
                  "--from-file=blob.bin"],
    "secret": ["create", "secret", "generic", "s", "--from-literal=k=v"],
    "namespace": ["create", "namespace", "n"],
    "deployment": ["create", "deployment", "d", "--image=nginx", "--replicas=2", "--port=80"],
    "service": ["create", "service", "clusterip", "s", "--tcp=80:8080"],
    "pod": ["run", "p", "--image=busybox", "--labels=a=b", "--env=X=1", "--", "sleep", "1"],
    "job": ["create", "job", "j", "--image=busybox"],
    "serviceaccount": ["create", "serviceaccount", "sa"],
    "configmap-env-file": ["create", "configmap", "e", "--from-env-file=app.env"],
    "secret-docker-registry": ["create", "secret", "docker-registry", "r",
                               "--docker-server=registry.example", "--docker-username=u",
                               "--docker-password=p", "--docker-email=u@example.com"],
    "secret-tls": ["create", "secret", "tls", "t", "--cert=tls.crt", "--key=tls.key"],
    "deployment-two-images": ["create", "deployment", "d2", "--image=nginx", "--image=busybox"],
    "service-nodeport": ["create", "service", "nodeport", "np", "--tcp=80:http",
                         "--node-port=30080"],
    "service-externalname": ["create", "service", "externalname", "ex",
                             "--external-name=db.example"],
    "cronjob": ["create", "cronjob", "c", "--image=busybox", "--schedule=*/5 * * * *",
                "--restart=OnFailure", "--", "date"],
    "ingress": ["create", "ingress", "i", "--class=nginx", "--annotation=a=b",
                "--rule=foo.example/bar*=svc:8080,tls=cert", "--default-backend=web:http"],
    "quota": ["create", "quota", "q", "--hard=cpu=1500m,memory=1G,pods=2",
              "--scopes=BestEffort"],
    "pdb": ["create", "pdb", "b", "--selector=app=web", "--min-available=50%"],
}
# kubectl run builds its Pod as an unstructured object and sends JSON; the others use typed clients.
SENT_AS_JSON = {"pod"}
PATHS = {
    "configmap": "/api/v1/namespaces/default/configmaps",
    "secret": "/api/v1/namespaces/default/secrets", "namespace": "/api/v1/namespaces",
    "deployment": "/apis/apps/v1/namespaces/default/deployments",
    "service": "/api/v1/namespaces/default/services", "pod": "/api/v1/namespaces/default/pods",
    "job": "/apis/batch/v1/namespaces/default/jobs",
    "serviceaccount": "/api/v1/namespaces/default/serviceaccounts",
    "configmap-env-file": "/api/v1/namespaces/default/configmaps",
    "secret-docker-registry": "/api/v1/namespaces/default/secrets",
    "secret-tls": "/api/v1/namespaces/default/secrets",
    "deployment-two-images": "/apis/apps/v1/namespaces/default/deployments",
    "service-nodeport": "/api/v1/namespaces/default/services",
    "service-externalname": "/api/v1/namespaces/default/services",
    "cronjob": "/apis/batch/v1/namespaces/default/cronjobs",
    "ingress": "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
    "quota": "/api/v1/namespaces/default/resourcequotas",
    "pdb": "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
}


def dry_run(command: list[str]) -> list[str]:
    """The command printing its object as JSON instead of sending it (flags before a "--")."""
    end = command.index("--") if "--" in command else len(command)
    return [*command[:end], "--dry-run=client", "-o", "json", *command[end:]]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_kubectl_create_sends_protobuf_that_decodes_to_its_json(capture: Capture,
                                                                 name: str) -> None:
    expected = json.loads(kubectl(capture, *dry_run(COMMANDS[name])))
    capture.taken()
    out = kubectl(capture, *COMMANDS[name])
    posts = capture.taken()
    assert [(path, is_protobuf(content_type)) for path, content_type, _ in posts] == \
        [(PATHS[name], name not in SENT_AS_JSON)], posts
    body = posts[0][2]
    assert (json.loads(body) if name in SENT_AS_JSON else decode_request(body)) == expected
    assert "created" in out


def test_kubectl_create_token_sends_a_token_request(capture: Capture) -> None:
    # kubectl create token has no --dry-run: the expected JSON is the Go TokenRequest's
    capture.taken()
    out = kubectl(capture, "create", "token", "sa", "--audience=https://a.example",
                  "--duration=10m", "--bound-object-kind=Pod", "--bound-object-name=p",
                  "--bound-object-uid=u1")
    ((path, content_type, body),) = capture.taken()
    assert (path, is_protobuf(content_type)) == \
        ("/api/v1/namespaces/default/serviceaccounts/sa/token", True)
    assert decode_request(body) == {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"audiences": ["https://a.example"], "expirationSeconds": 600,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p",
                                    "uid": "u1"}},
        "status": {"token": "", "expirationTimestamp": None}}
    assert out.strip() == "t0k3n"


def test_the_json_of_a_decoded_deployment_keeps_go_s_field_order(capture: Capture) -> None:
    capture.taken()
    kubectl(capture, *COMMANDS["deployment"])
    ((_, _, body),) = capture.taken()
    expected = kubectl(capture, *dry_run(COMMANDS["deployment"]))
    assert json.dumps(decode_request(body), indent=4) == expected.rstrip("\n")


def test_a_cut_kubectl_body_is_a_protobuf_error_naming_the_field(capture: Capture) -> None:
    capture.taken()
    kubectl(capture, "create", "configmap", "y", "--from-literal=a=b")
    ((_, _, body),) = capture.taken()
    with pytest.raises(ProtobufError, match=r"field 2 at byte \d+ claims \d+ bytes"):
        decode_request(body[:len(body) // 2])  # the envelope's raw object is cut
