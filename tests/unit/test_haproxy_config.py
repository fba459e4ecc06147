"""The HAProxy configuration of the ingress controller: golden files of whole configurations,
and the quoting that keeps object values from being read as HAProxy syntax."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from localsvc.model.haproxyconfig import config_files, crt_list, render, route_condition
from localsvc.model.ingressroutes import Backend, IngressPlan, Route, ServiceTarget, \
    plan_ingresses
from tests.unit.ingress_builders import SERVICES, ingress, path, rule, tls_secret, backend

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str, text: str) -> None:
    """Compare with tests/unit/golden/NAME (LOCALSVC_UPDATE_GOLDEN=1 rewrites it)."""
    target = GOLDEN / name
    if os.environ.get("LOCALSVC_UPDATE_GOLDEN") == "1":
        target.write_text(text)
    assert text == target.read_text()


SHOP = [ingress("shop", [
    rule("shop.localhost", path("/api", service="api", port="http"),
         path("/api/health", "Exact", service="api", port=8080), path("/")),
    rule("*.apps.localhost", path("/", "ImplementationSpecific")),
    rule("", path("/static")),
], tls=[{"hosts": ["shop.localhost"], "secretName": "shop-tls"}],
    defaultBackend=backend("web"))]


def test_golden_shop() -> None:
    plan = plan_ingresses(SHOP, SERVICES, {("default", "shop-tls"): tls_secret("shop-tls")})
    golden("ingress-shop.cfg", render(plan))
    assert crt_list(plan) == ("/etc/localsvc-ingress/certs/default_shop-tls.pem "
                              "shop.localhost\n")


def test_golden_empty_is_all_404() -> None:
    golden("ingress-empty.cfg", render(IngressPlan()))


def test_golden_missing_service_has_no_server() -> None:
    plan = plan_ingresses([ingress("a", [rule("a.localhost", path("/", service="gone"))])],
                          SERVICES, {})
    golden("ingress-missing-service.cfg", render(plan))


def test_conditions() -> None:
    web = Backend("default", "web", "80", "10.1.0.5:80")
    assert route_condition(Route("a.localhost", "/x", True, web, "")) == \
        "{ var(txn.host) -m str 'a.localhost' } { path -m str '/x' }"
    assert route_condition(Route("", "/x", False, web, "")) == \
        "{ path -m str '/x' } || { path -m beg '/x/' }"
    assert route_condition(Route("", "", False, web, "")) == ""
    assert route_condition(Route("*.a.localhost", "", False, web, "")) == \
        r"{ var(txn.host) -m reg '^[^.]+\.a\.localhost$' }"
    with pytest.raises(ValueError):
        route_condition(Route("", "/it's", True, web, ""))


def test_files_hold_the_certificates_only_when_there_are_some() -> None:
    assert sorted(config_files(IngressPlan(), b"DEFAULT")) == ["certs/default.pem",
                                                               "haproxy.cfg"]
    plan = plan_ingresses(SHOP, SERVICES, {("default", "shop-tls"): tls_secret("shop-tls")})
    files = config_files(plan, b"DEFAULT")
    assert sorted(files) == ["certs/default.pem", "certs/default_shop-tls.pem", "crt-list.txt",
                             "haproxy.cfg"]
    assert files["certs/default.pem"] == b"DEFAULT"


def test_the_same_objects_give_the_same_bytes() -> None:
    services = dict(reversed(list(SERVICES.items())))
    assert render(plan_ingresses(SHOP, SERVICES, {})) == render(plan_ingresses(
        list(reversed(SHOP)), services, {}))
    assert ServiceTarget("1.2.3.4") == ServiceTarget("1.2.3.4")
