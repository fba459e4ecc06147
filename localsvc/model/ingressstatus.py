"""An Ingress's status.loadBalancer, and the URLs that reach it from the host. Pure.

status.loadBalancer.ingress holds the host address the controller publishes on (127.0.0.1 by
default). Its `ports` (IngressPortStatus, networking.k8s.io/v1) are listed only when the
controller does not serve on 80 and 443: then the HTTP port first and the HTTPS port second,
which is how `localsvc url ingress/NAME` reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localsvc.model.ingressroutes import tls_hosts

Obj = dict[str, Any]
DEFAULT_PORTS = (80, 443)


def shown_address(host_address: str) -> str:
    """The address clients use: an "every interface" address is reached on the loopback."""
    return "127.0.0.1" if host_address in ("0.0.0.0", "::", "") else host_address


def load_balancer_status(host_address: str, http: int, https: int) -> Obj:
    entry: Obj = {"ip": shown_address(host_address)}
    if (http, https) != DEFAULT_PORTS:
        entry["ports"] = [{"port": http, "protocol": "TCP"}, {"port": https, "protocol": "TCP"}]
    return {"loadBalancer": {"ingress": [entry]}}


def served_ports(ingress: Mapping[str, Any]) -> tuple[str, int, int] | None:
    """(address, HTTP port, HTTPS port) from an Ingress's status; None while it has none."""
    entries = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if not entries or not isinstance(entries[0], Mapping):
        return None
    entry = entries[0]
    address = str(entry.get("ip") or entry.get("hostname") or "")
    ports = [int(p.get("port", 0)) for p in entry.get("ports") or [] if isinstance(p, Mapping)]
    http, https = (ports + list(DEFAULT_PORTS)[len(ports):])[:2] if ports else DEFAULT_PORTS
    return address, http, https


def host_matches(pattern: str, host: str) -> bool:
    """An Ingress host (exact, or `*.` and one label) against a name."""
    if pattern.startswith("*."):
        first, _, rest = host.partition(".")
        return bool(first) and rest == pattern[2:]
    return pattern == host


def ingress_urls(ingress: Mapping[str, Any]) -> list[str]:
    """One URL per host and path of the Ingress (https where its tls covers the host), on the
    ports its status gives; [] while it has no status (not served yet, or another class's)."""
    served = served_ports(ingress)
    if served is None:
        return []
    address, http, https = served
    spec = ingress.get("spec") or {}
    secured = [h for _, hosts in tls_hosts(ingress) for h in hosts]
    urls: list[str] = []
    for rule in spec.get("rules") or []:
        host = str(rule.get("host") or "")
        paths = [str(p.get("path") or "/") for p in (rule.get("http") or {}).get("paths") or []]
        secure = bool(host) and any(host_matches(t, host.lower()) for t in secured)
        for path in paths or ["/"]:
            urls.append(_url(host or address, secure, https if secure else http, path))
    if not urls:
        urls.append(_url(address, False, http, "/"))
    return list(dict.fromkeys(urls))


def _url(host: str, secure: bool, port: int, path: str) -> str:
    scheme = "https" if secure else "http"
    default = 443 if secure else 80
    shown = host if port == default else f"{host}:{port}"
    return f"{scheme}://{shown}{path if path.startswith('/') else '/' + path}"


def needs_resolve(url_host: str) -> bool:
    """Whether a browser reaches this host only with help: names under `localhost` resolve to
    the loopback by themselves (RFC 6761), IP addresses need nothing."""
    host = url_host.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return False
    return not all(part.isdigit() for part in host.split("."))
