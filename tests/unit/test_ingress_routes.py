"""The ingress plan: which Ingresses are ours, matching order, backends, TLS selection."""

from __future__ import annotations

from typing import Any

from localsvc.model import ingressclass as ic
from localsvc.model.ingressroutes import plan_ingresses, tls_secret_problem
from tests.unit.ingress_builders import CRT, KEY, SERVICES, backend, ingress, path, rule, \
    tls_secret

def shown(plan: Any) -> list[tuple[str, str, bool, str]]:
    return [(r.host, r.path, r.exact, r.backend.service) for r in plan.routes]


def test_host_groups_then_longest_path_then_exact_first() -> None:
    plan = plan_ingresses([ingress("a", [
        rule("", path("/", service="web")),
        rule("*.shop.localhost", path("/", service="web")),
        rule("shop.localhost", path("/", service="web"), path("/api/", service="api", port="http"),
             path("/api", "Exact", service="web"), path("/api/v1", "ImplementationSpecific",
                                                        service="api", port=8080)),
    ])], SERVICES, {})
    assert shown(plan) == [
        ("shop.localhost", "/api/v1", False, "api"),
        ("shop.localhost", "/api", True, "web"),  # Exact before Prefix of the same length
        ("shop.localhost", "/api", False, "api"),  # "/api/": the trailing slash is ignored
        ("shop.localhost", "", False, "web"),  # Prefix "/": every path, last
        ("*.shop.localhost", "", False, "web"),
        ("", "", False, "web"),
    ]
    assert plan.problems == ()


def test_the_oldest_ingress_wins_a_shared_host_and_path() -> None:
    young = ingress("young", [rule("a.localhost", path("/", service="api", port=8080))],
                    created="2024-02-01T00:00:00Z")
    old = ingress("old", [rule("a.localhost", path("/", service="web"))],
                  created="2024-01-01T00:00:00Z")
    plan = plan_ingresses([young, old], SERVICES, {})
    assert [(r.backend.service, r.source) for r in plan.routes] == [("web", "default/old")]


def test_backends_resolve_to_cluster_ip_and_port_or_503_with_a_reason() -> None:
    plan = plan_ingresses([ingress("a", [rule("a.localhost",
                                              path("/named", service="api", port="http"),
                                              path("/missing", service="nope"),
                                              path("/noport", service="web", port=81),
                                              path("/headless", service="headless"))])],
                          SERVICES, {})
    addresses = {r.path: r.backend.address for r in plan.routes}
    assert addresses == {"/named": "10.1.0.6:8080", "/missing": None, "/noport": None,
                         "/headless": None}
    assert [p.reason for p in plan.problems] == ["ServiceNotFound", "ServicePortNotFound",
                                                 "ServiceNotRoutable"]
    assert all(p.ingress == "default/a" for p in plan.problems)


def test_default_backend_of_the_oldest_ingress() -> None:
    first = ingress("first", [], defaultBackend=backend("web"))
    second = ingress("second", [], created="2024-03-01T00:00:00Z",
                     defaultBackend=backend("api", 8080))
    plan = plan_ingresses([second, first], SERVICES, {})
    assert plan.default_backend is not None and plan.default_backend.address == "10.1.0.5:80"
    assert [(p.ingress, p.reason) for p in plan.problems] == [
        ("default/second", "DefaultBackendConflict")]


def test_a_path_with_a_quote_is_left_out_with_a_reason() -> None:
    plan = plan_ingresses([ingress("a", [rule("", path("/it's"), path("/ok"))])], SERVICES, {})
    assert shown(plan) == [("", "/ok", False, "web")]
    assert [p.reason for p in plan.problems] == ["PathNotRoutable"]


def test_tls_hosts_select_the_secret_and_bad_secrets_fall_back() -> None:
    ing = ingress("a", [rule("shop.localhost", path("/")), rule("api.localhost", path("/"))],
                  tls=[{"hosts": ["shop.localhost", "*.shop.localhost"], "secretName": "shop"},
                       {"secretName": "implicit"},  # no hosts: the Ingress's rule hosts
                       {"hosts": ["x.localhost"], "secretName": "missing"},
                       {"hosts": ["y.localhost"], "secretName": "opaque"},
                       {"hosts": ["z.localhost"], "secretName": "mismatched"}])
    secrets = {("default", "shop"): tls_secret("shop"),
               ("default", "implicit"): tls_secret("implicit"),
               ("default", "opaque"): tls_secret("opaque", kind="Opaque"),
               ("default", "mismatched"): tls_secret("mismatched", key=b"-----BEGIN PRIVATE "
                                                     b"KEY-----\nX\n-----END PRIVATE KEY-----\n")}

    def check(crt: bytes, key: bytes) -> str | None:
        return "tls.key is not the private key of tls.crt" if b"X" in key else None

    plan = plan_ingresses([ing], SERVICES, secrets, check)
    assert [(c.secret, c.hosts) for c in plan.certificates] == [
        ("default/shop", ("shop.localhost", "*.shop.localhost")),
        ("default/implicit", ("api.localhost",)),  # shop.localhost is already the first's
    ]
    assert plan.certificates[0].pem == CRT + KEY
    messages = [p.message for p in plan.problems if p.reason == "InvalidTLSSecret"]
    assert len(messages) == 3
    assert messages[0].startswith('TLS secret "default/missing" not found')
    assert "of type 'Opaque', not 'kubernetes.io/tls'" in messages[1]
    assert messages[2].startswith("tls.key is not the private key of tls.crt")
    assert all("default (self-signed) certificate" in m for m in messages)


def test_tls_secret_problems() -> None:
    assert tls_secret_problem(tls_secret("s"), "default/s") is None
    assert "holds no PEM certificate" in str(tls_secret_problem(
        tls_secret("s", crt=b"nope"), "default/s"))
    assert "holds no PEM private key" in str(tls_secret_problem(
        tls_secret("s", key=b"nope"), "default/s"))
    string_data = {"type": "kubernetes.io/tls",
                   "stringData": {"tls.crt": CRT.decode(), "tls.key": KEY.decode()}}
    assert tls_secret_problem(string_data, "default/s") is None


def test_ingress_classes_decide_what_is_ours() -> None:
    node = ic.default_ingress_class("2024-01-01T00:00:00Z")
    assert ic.is_default(node) and node["spec"]["controller"] == ic.CONTROLLER
    other = {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}
    classes = ic.ingress_classes([other], "t")
    ours, classless = ic.our_classes(classes)
    assert ours == {"localsvc"} and classless
    assert ic.serves({"spec": {}}, ours, classless)
    assert ic.serves({"spec": {"ingressClassName": "localsvc"}}, ours, classless)
    assert not ic.serves({"spec": {"ingressClassName": "nginx"}}, ours, classless)
    assert not ic.serves({"spec": {"ingressClassName": "unknown"}}, ours, classless)
    annotated = {"metadata": {"annotations": {ic.CLASS_ANNOTATION: "nginx"}}, "spec": {}}
    assert not ic.serves(annotated, ours, classless)
    # Another controller's class marked default takes the class-less Ingresses.
    other_default = {"metadata": {"name": "nginx", "annotations": {ic.DEFAULT_ANNOTATION: "true"}},
                     "spec": {"controller": "k8s.io/ingress-nginx"}}
    _, classless = ic.our_classes(ic.ingress_classes([other_default], "t"))
    assert not classless
    # An applied class of the node's name replaces the node's own.
    applied = {"metadata": {"name": "localsvc"}, "spec": {"controller": ic.CONTROLLER}}
    assert ic.ingress_classes([applied], "t") == [applied]
