"""Ingress against the real engine: HAProxy routes real HTTP requests on 127.0.0.1 by Host
header and path (Prefix element-wise, Exact, wildcards), 404 and the default backend, TLS from
a kubernetes.io/tls Secret by SNI, IngressClass filtering, status, `localsvc url`, kubectl."""

from __future__ import annotations

import base64
from pathlib import Path

from localsvc.host.api import Environment
from tests.integration.conftest import localsvc, wait_for
from tests.integration.ingress_support import (
    answered,
    backend_env,  # noqa: F401  (the module's environment)
    controller_ports,
    events_of,
    get,
    get_tls,
    make_certificate,
    served_by,
    served_certificate,
)
from tests.integration.kubectl_support import Kubectl, rows, write_kubeconfig

SHOP = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec:
  rules:
  - host: shop.localhost
    http:
      paths:
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
      - {path: /exact, pathType: Exact, backend: {service: {name: api, port: {number: 8080}}}}
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
  - host: "*.apps.localhost"
    http:
      paths:
      - {path: /, pathType: ImplementationSpecific, backend: {service: {name: api, port: {number: 8080}}}}
"""


def apply(env: Environment, tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    env.apply([path])


def test_routes_by_host_and_path_with_status_url_and_kubectl(backend_env: Environment,
                                                             tmp_path: Path) -> None:
    env = backend_env
    apply(env, tmp_path, "shop.yaml", SHOP)
    ingress = wait_for(lambda: (env.get("ingress", "shop")[0].get("status") or {}).get(
        "loadBalancer", {}).get("ingress"), timeout=30, what="the Ingress's status")
    http_port, https_port = controller_ports(env)
    assert ingress == [{"ip": "127.0.0.1", "ports": [{"port": http_port, "protocol": "TCP"},
                                                     {"port": https_port, "protocol": "TCP"}]}]
    wait_for(lambda: answered(lambda: get(http_port, "shop.localhost", "/api")) == "api",
             timeout=15, what="the first route")
    expected = {
        ("shop.localhost", "/api"): "api",
        ("shop.localhost", "/api/orders/1?x=y"): "api",
        ("shop.localhost", "/apix"): "web",  # Prefix is element-wise: /apix is not under /api
        ("shop.localhost", "/exact"): "api",
        ("shop.localhost", "/exact/"): "web",  # Exact is exact
        ("shop.localhost", "/"): "web",
        ("SHOP.localhost:1234", "/api"): "api",  # host names are case-insensitive, port ignored
        ("a.apps.localhost", "/anything"): "api",  # the wildcard matches one label
        ("a.b.apps.localhost", "/"): "404 default backend - 404",  # not two
        ("apps.localhost", "/"): "404 default backend - 404",  # nor none
        ("other.localhost", "/"): "404 default backend - 404",
    }
    answers = {key: served_by(get(http_port, *key)) for key in expected}
    assert answers == expected
    url = localsvc(env, "url", "ingress/shop")
    assert url.stdout.splitlines() == [
        f"http://shop.localhost:{http_port}/api", f"http://shop.localhost:{http_port}/exact",
        f"http://shop.localhost:{http_port}/", f"http://*.apps.localhost:{http_port}/"]
    kubectl = Kubectl(env, write_kubeconfig(env, tmp_path / "kube"))
    table = rows(kubectl.run("get", "ingress").stdout)
    assert table[0] == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert table[1][:5] == ["shop", "<none>", "shop.localhost,*.apps.localhost", "127.0.0.1",
                            "80"]
    classes = rows(kubectl.run("get", "ingressclass").stdout)
    assert classes[1][:3] == ["localsvc", "localsvc.io/ingress-haproxy", "<none>"]


OTHER_CLASS = """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: other}
spec: {controller: example.com/other-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: elsewhere}
spec:
  ingressClassName: other
  rules:
  - host: elsewhere.localhost
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: fallback}
spec:
  ingressClassName: localsvc
  defaultBackend: {service: {name: api, port: {number: 8080}}}
"""


def test_other_classes_are_left_alone_and_the_default_backend_serves_the_rest(
        backend_env: Environment, tmp_path: Path) -> None:
    env = backend_env
    apply(env, tmp_path, "classes.yaml", OTHER_CLASS)
    http_port, _ = controller_ports(env)
    wait_for(lambda: answered(lambda: get(http_port, "nowhere.localhost")) == "api",
             timeout=15, what="the default backend")
    assert served_by(get(http_port, "elsewhere.localhost")) == "api"  # not routed: the default
    fallback = wait_for(lambda: (env.get("ingress", "fallback")[0].get("status") or {}).get(
        "loadBalancer", {}).get("ingress"), timeout=10, what="the status")
    assert fallback[0]["ip"] == "127.0.0.1"
    elsewhere = env.get("ingress", "elsewhere")[0]
    assert not (elsewhere.get("status") or {}).get("loadBalancer", {}).get("ingress")
    result = localsvc(env, "url", "ingress/elsewhere", check=False)
    assert result.returncode != 0
    assert ("localsvc's controller does not serve it (its class other belongs to "
            "example.com/other-controller)") in result.stderr
    # shop's routes still win over the default backend
    assert served_by(get(http_port, "shop.localhost", "/")) == "web"


def tls_secret(name: str, crt: bytes, key: bytes) -> str:
    return (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\n"
            f"type: kubernetes.io/tls\ndata:\n"
            f"  tls.crt: {base64.b64encode(crt).decode()}\n"
            f"  tls.key: {base64.b64encode(key).decode()}\n")


TLS_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: secure}
spec:
  tls:
  - {hosts: [secure.localhost], secretName: secure-tls}
  - {hosts: [broken.localhost], secretName: no-such-secret}
  rules:
  - host: secure.localhost
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
  - host: broken.localhost
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}]
"""


def test_tls_from_a_kubernetes_io_tls_secret_by_sni(backend_env: Environment,
                                                    tmp_path: Path) -> None:
    env = backend_env
    crt, key = make_certificate(["secure.localhost"])
    (tmp_path / "ca.pem").write_bytes(crt)
    apply(env, tmp_path, "tls.yaml", tls_secret("secure-tls", crt, key) + "---\n" + TLS_INGRESS)
    http_port, https_port = controller_ports(env)
    wait_for(lambda: answered(lambda: get_tls(https_port, "secure.localhost",
                                              tmp_path / "ca.pem")) == "web", timeout=15,
             what="HTTPS with the Secret's certificate")
    assert served_by(get(http_port, "secure.localhost")) == "web"  # HTTP still served
    # Another name over TLS: the controller's default certificate (routing still by Host).
    default = served_certificate(https_port, "broken.localhost")
    assert "localsvc ingress default certificate" in default.subject.rfc4514_string()
    assert served_by(get_tls(https_port, "broken.localhost", None)) == "api"
    mine = served_certificate(https_port, "secure.localhost")
    assert mine.subject.rfc4514_string() == "CN=secure.localhost"
    url = localsvc(env, "url", "ingress/secure").stdout.splitlines()
    # broken.localhost asks for TLS too: served with the default certificate, still https.
    assert url == [f"https://secure.localhost:{https_port}/",
                   f"https://broken.localhost:{https_port}/"]
    warnings = wait_for(lambda: [e for e in events_of(env, "secure")
                                 if e.get("reason") == "InvalidTLSSecret"], timeout=10,
                        what="the missing Secret's event")
    assert 'TLS secret "default/no-such-secret" not found' in warnings[0]["message"]
    assert warnings[0]["type"] == "Warning"


BAD_PATH = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad}
spec:
  rules:
  - http:
      paths: [{path: /, backend: {service: {name: web, port: {number: 80}}}}]
"""
RESOURCE_BACKEND = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bucket}
spec:
  defaultBackend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: b}}
"""


def test_kubectl_writes_are_validated_and_applied(backend_env: Environment,
                                                  tmp_path: Path) -> None:
    env = backend_env
    kubectl = Kubectl(env, write_kubeconfig(env, tmp_path / "kube"))
    refused = kubectl.run("apply", "-f", "-", stdin=BAD_PATH, check=False)
    assert refused.returncode != 0
    assert ('The Ingress "bad" is invalid: spec.rules[0].http.paths[0].pathType: Required '
            "value") in refused.stderr
    refused = kubectl.run("apply", "-f", "-", stdin=RESOURCE_BACKEND, check=False)
    assert refused.returncode != 0 and "resource backends are not supported" in refused.stderr
    created = SHOP.replace("name: shop", "name: by-kubectl").replace(
        "shop.localhost", "kubectl.localhost").replace("*.apps.localhost", "*.k.localhost")
    kubectl.run("apply", "-f", "-", stdin=created)
    http_port, _ = controller_ports(env)
    # "/" -> web tells its routes from the default backend (api, set by an earlier test)
    wait_for(lambda: answered(lambda: get(http_port, "kubectl.localhost", "/")) == "web",
             timeout=15, what="the Ingress kubectl created")
    assert served_by(get(http_port, "kubectl.localhost", "/exact")) == "api"
    described = kubectl.out("describe", "ingress", "by-kubectl")
    assert "kubectl.localhost" in described and "/api" in described
    kubectl.run("delete", "ingress", "by-kubectl")
    # Its routes go: the host now gets the default backend (or the 404), not web.
    wait_for(lambda: served_by(get(http_port, "kubectl.localhost", "/")) != "web", timeout=15,
             what="the deleted Ingress's routes gone")


def test_down_removes_the_controller(backend_env: Environment) -> None:
    env = backend_env
    found = env.docker.containers.list(all=True, filters={"label": [
        f"io.localsvc.env={env.name}", "io.localsvc.role=ingress"]})
    assert len(found) == 1 and found[0].status == "running"
    env.down()
    assert env.docker.containers.list(all=True, filters={"label": [
        f"io.localsvc.env={env.name}", "io.localsvc.role=ingress"]}) == []
