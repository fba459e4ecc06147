"""The Table rows of Ingresses and IngressClasses, as the 1.32 API server's printers
(pkg/printers/internalversion printIngress, printIngressClass) build them. Pure.

The server prints with Wide on, so the ADDRESS cell is never shortened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localsvc.model.kubeapi.tablecells import AGE, NAME, NONE, Column, age, dig, mapping_items
from localsvc.model.kubeapi.tablecells import name_of

MAX_HOSTS = 3  # formatHosts: the first three, then "+ N more..."


def format_hosts(rules: list[Mapping[str, Any]]) -> str:
    shown: list[str] = []
    more = False
    for rule in rules:  # as formatHosts: hostless rules are passed over but counted in "more"
        if len(shown) == MAX_HOSTS:
            more = True
        if not more and rule.get("host"):
            shown.append(str(rule["host"]))
    if not shown:
        return "*"
    text = ",".join(shown)
    return f"{text} + {len(rules) - MAX_HOSTS} more..." if more else text


def ingress_row(ing: Mapping[str, Any], now: float) -> tuple[list[Any], list[dict[str, str]]]:
    spec = ing.get("spec") or {}
    addresses = sorted({str(i.get("ip") or i.get("hostname")) for i in
                        mapping_items(dig(ing, "status", "loadBalancer", "ingress"))
                        if i.get("ip") or i.get("hostname")})
    return [name_of(ing), str(spec.get("ingressClassName") or NONE),
            format_hosts(mapping_items(spec.get("rules"))), ",".join(addresses),
            "80, 443" if spec.get("tls") else "80", age(ing, now)], []


def ingress_class_row(cls: Mapping[str, Any],
                      now: float) -> tuple[list[Any], list[dict[str, str]]]:
    params = dig(cls, "spec", "parameters")
    shown = NONE
    if isinstance(params, Mapping):
        kind = str(params.get("kind", ""))
        if params.get("apiGroup"):
            kind = f"{kind}.{params['apiGroup']}"
        shown = f"{kind}/{params.get('name', '')}"
    return [name_of(cls), str(dig(cls, "spec", "controller") or ""), shown, age(cls, now)], []


INGRESS_COLUMNS = (
    NAME,
    Column("Class", text="The name of the IngressClass resource that should be used for "
                         "additional configuration"),
    Column("Hosts", text="Hosts that incoming requests are matched against before the ingress "
                         "rule"),
    Column("Address", text="Address is a list containing ingress points for the "
                           "load-balancer"),
    Column("Ports", text="Ports of TLS configurations that open"),
    AGE,
)
INGRESS_CLASS_COLUMNS = (
    NAME,
    Column("Controller", text="Controller that is responsible for handling this class"),
    Column("Parameters", text="A reference to a resource with additional parameters"),
    AGE,
)
