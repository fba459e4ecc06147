"""Ingresses and IngressClasses (networking.k8s.io/v1), checked as the API server's
pkg/apis/networking/validation does for the fields localsvc runs; `resource` backends, which the
API accepts, are refused here because localsvc's controller can only route to Services.
"""

from __future__ import annotations

import re
from typing import Any

from localsvc.model import names
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, is_int, show

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
# The API server refuses these in Exact and Prefix paths (invalidPathSequences/Suffixes).
_BAD_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_BAD_SUFFIXES = ("/..", "/.")
# "example.com/ingress-controller": a domain-prefixed path (IngressClass spec.controller).
_CONTROLLER = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/\S+$")
MAX_CONTROLLER_LENGTH = 250


def host_name_error(host: str) -> str | None:
    """Why `host` is not an Ingress host (a DNS name, or `*.` and one); None when it is one."""
    if names.ip_address_error(host) is None:
        return f"must be a DNS name, not an IP address (got {show(host)})"
    rest = host[2:] if host.startswith("*.") else host
    if not names.is_dns1123_subdomain(rest):
        return ('must be a lowercase DNS name such as "shop.localhost", or a wildcard such as '
                f'"*.shop.localhost" (got {show(host)})')
    return None


def check_ingress(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec") or {}
    check.name(spec.get("ingressClassName"), "spec.ingressClassName",
               names.dns1123_subdomain_error, required=False)
    rules = check.items(spec.get("rules"), "spec.rules") or []
    default = spec.get("defaultBackend")
    if not rules and default is None:
        check.add("spec", "either `defaultBackend` or `rules` must be specified")
    if default is not None:
        check_backend(check, default, "spec.defaultBackend")
    for path, rule in check.mappings(spec.get("rules"), "spec.rules"):
        _check_rule(check, rule, path)
    for path, tls in check.mappings(spec.get("tls"), "spec.tls"):
        for j, host in enumerate(check.items(tls.get("hosts"), child_path(path, "hosts")) or []):
            here = child_path(child_path(path, "hosts"), j)
            if (text := check.string(host, here, required=True)) and \
                    (error := host_name_error(text)):
                check.add(here, error)
        check.name(tls.get("secretName"), child_path(path, "secretName"),
                   names.dns1123_subdomain_error, required=False)


def _check_rule(check: Check, rule: dict[str, Any], path: str) -> None:
    host = check.string(rule.get("host"), child_path(path, "host"))
    if host and (error := host_name_error(host)):
        check.add(child_path(path, "host"), error)
    http = rule.get("http")
    if http is None:
        return
    http = check.mapping(http, child_path(path, "http")) or {}
    paths_path = child_path(child_path(path, "http"), "paths")
    if not check.items(http.get("paths"), paths_path):
        check.add(paths_path, "required: at least one path")
        return
    for item_path, item in check.mappings(http.get("paths"), paths_path):
        _check_path(check, item, item_path)


def _check_path(check: Check, item: dict[str, Any], path: str) -> None:
    kind = check.one_of(item.get("pathType"), child_path(path, "pathType"), PATH_TYPES,
                        required=True)
    text = check.string(item.get("path"), child_path(path, "path")) or ""
    where = child_path(path, "path")
    if kind in ("Exact", "Prefix") and not text.startswith("/"):
        check.add(where, f'must be an absolute path starting with "/" (got {show(text)})')
    elif kind == "ImplementationSpecific" and text and not text.startswith("/"):
        check.add(where, f'must be an absolute path starting with "/" (got {show(text)})')
    if kind in ("Exact", "Prefix") and text:
        for bad in _BAD_SEQUENCES:
            if bad in text:
                check.add(where, f"must not contain '{bad}' (got {show(text)})")
        for bad in _BAD_SUFFIXES:
            if text.endswith(bad):
                check.add(where, f"cannot end with '{bad}' (got {show(text)})")
    if any(c.isspace() for c in text):
        check.add(where, f"must not contain whitespace (got {show(text)})")
    backend = check.mapping(item.get("backend"), child_path(path, "backend"), required=True)
    if backend is not None:
        check_backend(check, backend, child_path(path, "backend"))


def check_backend(check: Check, backend: Any, path: str) -> None:
    backend = check.mapping(backend, path)
    if backend is None:
        return
    if backend.get("resource") is not None:
        check.add(child_path(path, "resource"),
                  "resource backends are not supported by localsvc's ingress controller, which "
                  "routes to Services only; use `service: {name: ..., port: {number: ...}}`")
        return
    service = check.mapping(backend.get("service"), child_path(path, "service"))
    if service is None:
        if backend.get("service") is None:
            check.add(path, "a service backend is required: `service: {name: NAME, port: "
                            "{number: PORT}}`")
        return
    svc_path = child_path(path, "service")
    check.name(service.get("name"), child_path(svc_path, "name"), names.dns1035_label_error)
    port_path = child_path(svc_path, "port")
    port = check.mapping(service.get("port"), port_path)
    if port is None:
        check.add(port_path, "port name or number is required")
        return
    name, number = port.get("name"), port.get("number")
    if name and number:
        check.add(port_path, "cannot set both port name & port number")
    elif name:
        text = check.string(name, child_path(port_path, "name"))
        if text and (error := names.iana_svc_name_error(text)):
            check.add(child_path(port_path, "name"), f"a port name {error}")
    elif number is not None and not (is_int(number) and number == 0):
        check.port(number, child_path(port_path, "number"))
    else:
        check.add(port_path, "port name or number is required")


def check_ingress_class(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec") or {}
    controller = check.string(spec.get("controller"), "spec.controller", required=True,
                              hint=' (e.g. "localsvc.io/ingress")')
    if controller is not None:
        if len(controller) > MAX_CONTROLLER_LENGTH:
            check.add("spec.controller",
                      f"must be no more than {MAX_CONTROLLER_LENGTH} characters")
        elif not _CONTROLLER.match(controller):
            check.add("spec.controller", 'must be a domain-prefixed path such as '
                      f'"example.com/ingress-controller" (got {show(controller)})')
    params = check.mapping(spec.get("parameters"), "spec.parameters")
    if params is not None:
        check.string(params.get("kind"), "spec.parameters.kind", required=True)
        check.string(params.get("name"), "spec.parameters.name", required=True)
        check.one_of(params.get("scope"), "spec.parameters.scope", ("Cluster", "Namespace"))
