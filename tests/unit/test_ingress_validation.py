"""Ingress and IngressClass validation: what the API server refuses, file:line and field path,
and `resource` backends refused with the fix."""

from __future__ import annotations

from textwrap import dedent, indent

import pytest

from localsvc.model.ignored import ignored_fields
from localsvc.model.load import load_text
from localsvc.model.validate import validate


def ingress(spec: str) -> str:
    """An Ingress named i whose spec is `spec` (spec starts on line 5)."""
    return ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec:\n"
            + indent(dedent(spec), "  "))


def problems(text: str) -> list[str]:
    loaded = load_text(text, "i.yaml")
    assert loaded.skipped == [] and loaded.problems == []
    return [str(p) for p in validate(loaded.manifests)]


GOOD = """
ingressClassName: localsvc
defaultBackend: {service: {name: web, port: {number: 80}}}
tls: [{hosts: [shop.localhost, "*.shop.localhost"], secretName: shop-tls}]
rules:
- host: shop.localhost
  http:
    paths:
    - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: http}}}}
    - {path: /exact, pathType: Exact, backend: {service: {name: api, port: {number: 8080}}}}
    - {pathType: ImplementationSpecific, backend: {service: {name: web, port: {number: 80}}}}
- host: "*.apps.localhost"
  http:
    paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
"""


def test_a_full_ingress_is_valid() -> None:
    assert problems(ingress(GOOD)) == []


@pytest.mark.parametrize(("spec", "expected"), [
    ("{}", "Ingress/i: spec: either `defaultBackend` or `rules` must be specified"),
    ("rules: [{host: a.localhost, http: {paths: [{path: /, backend: {service: {name: w, port: "
     "{number: 80}}}}]}}]",
     "spec.rules[0].http.paths[0].pathType: required"),
    ("rules: [{http: {paths: [{path: /, pathType: Regex, backend: {service: {name: w, port: "
     "{number: 80}}}}]}}]",
     'spec.rules[0].http.paths[0].pathType: must be one of "Exact", "ImplementationSpecific", '
     '"Prefix"'),
    ("rules: [{http: {paths: [{path: api, pathType: Prefix, backend: {service: {name: w, port: "
     "{number: 80}}}}]}}]",
     'spec.rules[0].http.paths[0].path: must be an absolute path starting with "/"'),
    ("rules: [{http: {paths: [{path: /a//b, pathType: Exact, backend: {service: {name: w, port: "
     "{number: 80}}}}]}}]",
     "spec.rules[0].http.paths[0].path: must not contain '//'"),
    ("rules: [{http: {paths: [{path: /a/.., pathType: Prefix, backend: {service: {name: w, "
     "port: {number: 80}}}}]}}]",
     "spec.rules[0].http.paths[0].path: cannot end with '/..'"),
    ("rules: [{host: 10.0.0.1, http: {paths: [{path: /, pathType: Prefix, backend: {service: "
     "{name: w, port: {number: 80}}}}]}}]",
     "spec.rules[0].host: must be a DNS name, not an IP address"),
    ("rules: [{host: 'a.*.localhost', http: {paths: [{path: /, pathType: Prefix, backend: "
     "{service: {name: w, port: {number: 80}}}}]}}]",
     "spec.rules[0].host: must be a lowercase DNS name"),
    ("rules: [{host: a.localhost, http: {paths: []}}]",
     "spec.rules[0].http.paths: required: at least one path"),
    ("defaultBackend: {service: {name: w, port: {number: 80, name: http}}}",
     "spec.defaultBackend.service.port: cannot set both port name & port number"),
    ("defaultBackend: {service: {name: w, port: {}}}",
     "spec.defaultBackend.service.port: port name or number is required"),
    ("defaultBackend: {service: {name: w, port: {number: 70000}}}",
     "spec.defaultBackend.service.port.number: must be"),
    ("defaultBackend: {service: {name: Web, port: {number: 80}}}",
     "spec.defaultBackend.service.name:"),
    ("defaultBackend: {resource: {apiGroup: k8s.example.com, kind: StorageBucket, name: b}}",
     "spec.defaultBackend.resource: resource backends are not supported by localsvc's ingress "
     "controller, which routes to Services only; use `service: {name: ..., port: {number: "
     "...}}`"),
    ("defaultBackend: {}", "spec.defaultBackend: a service backend is required"),
    ("tls: [{hosts: [Bad_Host], secretName: s}]\ndefaultBackend: {service: {name: w, port: "
     "{number: 80}}}", "spec.tls[0].hosts[0]: must be a lowercase DNS name"),
    ("ingressClassName: Not_A_Name\ndefaultBackend: {service: {name: w, port: {number: 80}}}",
     "spec.ingressClassName:"),
])
def test_bad_ingresses_name_the_field(spec: str, expected: str) -> None:
    found = problems(ingress(spec))
    assert any(expected in p for p in found), found


def test_the_problem_is_on_the_line_of_the_field() -> None:
    text = ingress("""
        rules:
        - host: a.localhost
          http:
            paths:
            - path: api
              pathType: Prefix
              backend: {service: {name: w, port: {number: 80}}}
        """)
    assert problems(text) == [
        'i.yaml:10: Ingress/i: spec.rules[0].http.paths[0].path: must be an absolute path '
        'starting with "/" (got "api")']


def ingress_class(spec: str) -> str:
    return ("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: c}\n"
            f"spec: {spec}\n")


def test_ingress_classes() -> None:
    assert problems(ingress_class("{controller: example.com/ingress}")) == []
    assert any("spec.controller: required" in p for p in problems(ingress_class("{}")))
    assert any("must be a domain-prefixed path" in p
               for p in problems(ingress_class("{controller: nginx}")))
    manifest = load_text(ingress_class("{controller: example.com/x}"), "c.yaml").manifests[0]
    assert manifest.namespace == ""  # cluster-scoped


def test_unknown_fields_are_refused_and_strict_lists_ignored_ones() -> None:
    bad = ingress("defaultBackend: {service: {name: w, port: {number: 80}, weight: 3}}")
    assert any("spec.defaultBackend.service.weight" in p for p in problems(bad))
    text = ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i}\nspec:\n"
            "  defaultBackend: {service: {name: w, port: {number: 80}}}\n"
            "status: {loadBalancer: {}}\n")
    assert ignored_fields(load_text(text, "i.yaml").manifests[0]) == []
    cls = load_text(ingress_class("{controller: example.com/x, parameters: {kind: K, name: n}}"),
                    "c.yaml").manifests[0]
    assert ignored_fields(cls) == ["spec.parameters"]
