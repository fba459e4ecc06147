"""`localsvc url ingress/NAME` and what `up` says about the ingress controller: the URLs of an
Ingress from its status (model/ingressstatus.py), and the controller's ports when they are not
the ones asked for (another environment or program holds them, or they may not be bound)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from localsvc.errors import LocalsvcError
from localsvc.model.ingressclass import DEFAULT_CLASS, class_name, our_classes, serves
from localsvc.model.ingressstatus import ingress_urls, needs_resolve

Obj = dict[str, Any]


def controller_summary(env: Any) -> Obj:
    """The node's word on its ingress controller (ports, why not the wanted ones)."""
    return dict((env.node().get("/v1/status") or {}).get("ingress") or {})


def fallback_note(summary: Obj) -> str | None:
    """A sentence when the controller does not listen on the ports asked for."""
    ports, wanted = summary.get("ports"), summary.get("wantedPorts")
    if summary.get("error"):
        return f"ingress controller: {summary['error']}"
    if not ports or not wanted or [p for p in wanted if p] == [
            q for p, q in zip(wanted, ports) if p]:
        return None
    return (f"ingress controller: serving HTTP on port {ports[0]} and HTTPS on port {ports[1]} "
            f"({summary.get('note') or 'the configured ports are not available'})")


def ingress_url_lines(env: Any, name: str, namespace: str, wait: float = 10.0) -> list[str]:
    """The URLs of the Ingress, waiting up to `wait` seconds for the controller to serve it."""
    deadline = time.monotonic() + wait
    ingress = env.get("ingress", name, namespace)[0]
    classes = env.get("ingressclass", namespace=None)
    ours, classless = our_classes(classes)
    if not serves(ingress, ours, classless):
        wanted = class_name(ingress)
        owner = next((str((c.get("spec") or {}).get("controller")) for c in classes
                      if (c.get("metadata") or {}).get("name") == wanted), None)
        raise LocalsvcError(
            f"ingress {name} has no address: localsvc's controller does not serve it (its class "
            f"{wanted or '(default)'} " + (f"belongs to {owner})" if owner else "does not exist)")
            + f"; serve it with `ingressClassName: {DEFAULT_CLASS}` or no class")
    urls = ingress_urls(ingress)
    while not urls and time.monotonic() < deadline:
        time.sleep(0.3)
        urls = ingress_urls(env.get("ingress", name, namespace)[0])
    if not urls:
        raise LocalsvcError(
            f"ingress {name} has no address yet: localsvc's ingress controller has not "
            "started; see `localsvc status`")
    return urls


def resolve_hints(urls: list[str]) -> list[str]:
    """How to reach hosts that do not resolve to the loopback by themselves."""
    hints = []
    for url in urls:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if needs_resolve(host) and "*" not in host:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            hints.append(f"{host} does not resolve to this machine by itself: curl --resolve "
                         f"{host}:{port}:127.0.0.1 {url} (or add it to /etc/hosts)")
    return hints


def serves_any(ingresses: list[Obj], classes: list[Obj]) -> bool:
    """Whether localsvc's controller serves one of `ingresses` (else it never starts)."""
    ours, classless = our_classes(classes)
    return any(serves(ingress, ours, classless) for ingress in ingresses)


def up_notice(env: Any, wait: float = 8.0) -> str | None:
    """After an `up` that applied Ingresses: a word when the controller is on fallback ports
    (waits up to `wait` seconds for it to start; none when it serves none of them: Ingresses
    of another class start no controller)."""
    if not serves_any(env.get("ingress", namespace=None), env.get("ingressclass", namespace=None)):
        return None
    deadline = time.monotonic() + wait
    summary = controller_summary(env)
    while not summary.get("ports") and not summary.get("error") and \
            time.monotonic() < deadline:
        time.sleep(0.3)
        summary = controller_summary(env)
    return fallback_note(summary)
