"""What the ingress controller serves: the routes, default backend and certificates of the
Ingresses it owns, in the order requests are matched. Pure.

Matching, as the Ingress spec (networking.k8s.io/v1) defines it and ingress-nginx does it:
- the request's host picks one host group: an exact host first, else the one-label wildcard
  (`*.shop.localhost` matches `a.shop.localhost`, not `shop.localhost` nor `a.b.shop.localhost`),
  else the rules without a host;
- within that group the longest matching path wins, Exact before Prefix at equal length, then the
  oldest Ingress; Prefix matches element-wise (`/api` matches `/api` and `/api/x`, not `/apix`;
  a trailing `/` is ignored); ImplementationSpecific is treated as Prefix;
- nothing matches: the default backend (the oldest Ingress's spec.defaultBackend), else 404.
Backends are the Service's ClusterIP and port: the node's service proxy then balances over the
ready endpoints, as kube-proxy does for any client. A backend that cannot be resolved (no such
Service, no such port, a headless Service) stays a route and answers 503, with an event.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from localsvc.model.podvolumes import data_of

Obj = dict[str, Any]
TLS_TYPE = "kubernetes.io/tls"
# A certificate check beyond the PEM markers (the node parses and pairs them): None when fine.
CertCheck = Callable[[bytes, bytes], str | None]


@dataclass(frozen=True)
class ServiceTarget:
    """What routing needs of a Service: its ClusterIP and ports (name -> port number)."""

    cluster_ip: str | None
    ports: Mapping[str, int] = field(default_factory=dict)
    numbers: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Backend:
    """A Service port; `address` "ip:port", None when it cannot be resolved (answers 503)."""

    namespace: str
    service: str
    port: str  # the number or the name, as the Ingress gives it
    address: str | None

    @property
    def id(self) -> str:
        return f"svc_{self.namespace}_{self.service}_{self.port}"


@dataclass(frozen=True)
class Route:
    host: str  # "" any host; "*.x" one-label wildcard; else exact
    path: str  # Prefix paths without their trailing "/" ("" for "/")
    exact: bool
    backend: Backend
    source: str  # "namespace/name" of the Ingress


@dataclass(frozen=True)
class Certificate:
    secret: str  # "namespace/name"
    pem: bytes  # certificate chain then key, as HAProxy loads them
    hosts: tuple[str, ...]  # the SNI names it serves (wildcards allowed)


@dataclass(frozen=True)
class Problem:
    """Something an Ingress asks that is not served as asked: a Warning event on it."""

    ingress: str  # "namespace/name"
    reason: str
    message: str


@dataclass(frozen=True)
class IngressPlan:
    routes: tuple[Route, ...] = ()  # host groups in matching order, each in path order
    default_backend: Backend | None = None
    certificates: tuple[Certificate, ...] = ()
    problems: tuple[Problem, ...] = ()

    @property
    def backends(self) -> tuple[Backend, ...]:
        found = [r.backend for r in self.routes]
        if self.default_backend is not None:
            found.append(self.default_backend)
        return tuple(dict.fromkeys(found))

    def host_groups(self) -> list[tuple[str, list[Route]]]:
        groups: dict[str, list[Route]] = {}
        for route in self.routes:
            groups.setdefault(route.host, []).append(route)
        return list(groups.items())


def _meta(obj: Obj) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or "default"), str(meta.get("name", "")),
            str(meta.get("creationTimestamp") or ""))


def _age_order(ingresses: Sequence[Obj]) -> list[Obj]:
    """Oldest first, then by namespace and name: the tie-break of every conflict."""
    return sorted(ingresses, key=lambda o: (_meta(o)[2], _meta(o)[0], _meta(o)[1]))


def host_order(host: str) -> tuple[int, str]:
    """Exact hosts first, then wildcards, then the rules without a host."""
    return (2 if not host else 1 if host.startswith("*.") else 0, host)


def _resolve(namespace: str, backend: Obj, services: Mapping[tuple[str, str], ServiceTarget],
             source: str, problems: list[Problem]) -> Backend:
    svc = backend.get("service") or {}
    name = str(svc.get("name", ""))
    port = svc.get("port") or {}
    wanted = str(port.get("name") or port.get("number") or "")
    target = services.get((namespace, name))
    address = None
    if target is None:
        problems.append(Problem(source, "ServiceNotFound",
                                f'service "{namespace}/{name}" not found: requests routed to it '
                                "get 503 until it exists"))
    elif target.cluster_ip is None:
        problems.append(Problem(source, "ServiceNotRoutable",
                                f'service "{namespace}/{name}" has no ClusterIP (headless or '
                                "ExternalName): requests routed to it get 503"))
    else:
        number = target.ports.get(wanted) if port.get("name") else int(port.get("number") or 0)
        if number is None or number not in target.numbers:
            problems.append(Problem(source, "ServicePortNotFound",
                                    f'service "{namespace}/{name}" has no port {wanted}: '
                                    "requests routed to it get 503"))
        else:
            address = f"{target.cluster_ip}:{number}"
    return Backend(namespace, name, wanted, address)


def _paths(rule: Obj) -> list[Obj]:
    return [p for p in ((rule.get("http") or {}).get("paths") or []) if isinstance(p, dict)]


def _route_path(item: Obj) -> tuple[str, bool]:
    path = str(item.get("path") or "/")
    if item.get("pathType") == "Exact":
        return path, True
    return path.rstrip("/"), False  # Prefix and ImplementationSpecific


def plan_ingresses(ingresses: Sequence[Obj], services: Mapping[tuple[str, str], ServiceTarget],
                   secrets: Mapping[tuple[str, str], Obj],
                   cert_check: CertCheck | None = None) -> IngressPlan:
    """The plan of the Ingresses this controller serves (already filtered by class)."""
    problems: list[Problem] = []
    candidates: list[tuple[tuple[Any, ...], Route]] = []
    default: Backend | None = None
    default_source = ""
    for age, ing in enumerate(_age_order(ingresses)):
        namespace, name, _ = _meta(ing)
        source = f"{namespace}/{name}"
        spec = ing.get("spec") or {}
        if spec.get("defaultBackend"):
            resolved = _resolve(namespace, spec["defaultBackend"], services, source, problems)
            if default is None:
                default, default_source = resolved, source
            else:
                problems.append(Problem(source, "DefaultBackendConflict",
                                        "spec.defaultBackend is not used: the older Ingress "
                                        f"{default_source} sets the default backend"))
        for i, rule in enumerate(spec.get("rules") or []):
            host = str(rule.get("host") or "").lower()
            for j, item in enumerate(_paths(rule)):
                if "'" in str(item.get("path") or ""):
                    problems.append(Problem(source, "PathNotRoutable",
                                            f"path {item.get('path')!r} holds a quote, which "
                                            "localsvc's controller cannot route; it is left out"))
                    continue
                path, exact = _route_path(item)
                backend = _resolve(namespace, item.get("backend") or {}, services, source,
                                   problems)
                route = Route(host, path, exact, backend, source)
                order = (host_order(host), -len(path), not exact, age, i, j)
                candidates.append((order, route))
    routes: list[Route] = []
    seen: set[tuple[str, str, bool]] = set()
    for _, route in sorted(candidates, key=lambda c: c[0]):
        if (route.host, route.path, route.exact) in seen:
            continue  # the same host and path in a younger Ingress: the older one serves it
        seen.add((route.host, route.path, route.exact))
        routes.append(route)
    certificates = _certificates(_age_order(ingresses), secrets, cert_check, problems)
    return IngressPlan(tuple(routes), default, certificates, tuple(dict.fromkeys(problems)))


def tls_hosts(ingress: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[str]]]:
    """Each tls entry of the Ingress with the hosts it covers: the hosts it names, else (as
    ingress-nginx does) the hosts of the Ingress's rules. The certificate planner and the URLs
    `localsvc url` prints (model/ingressstatus.py) both read them here, so they agree."""
    spec = ingress.get("spec") or {}
    rule_hosts = sorted({str(r.get("host")).lower() for r in spec.get("rules") or []
                         if isinstance(r, Mapping) and r.get("host")})
    return [(tls, [str(h).lower() for h in tls.get("hosts") or []] or list(rule_hosts))
            for tls in spec.get("tls") or [] if isinstance(tls, Mapping)]


def _certificates(ingresses: Sequence[Obj], secrets: Mapping[tuple[str, str], Obj],
                  cert_check: CertCheck | None, problems: list[Problem]) -> tuple[Certificate, ...]:
    """One certificate per Secret, serving the hosts its Ingresses' tls entries name (the rule
    hosts of its Ingress when the entry names none); a host already served by an older
    Ingress's Secret stays with it. A missing or invalid Secret: an event, and its hosts get the
    controller's default certificate."""
    by_secret: dict[str, tuple[bytes, list[str]]] = {}
    taken: set[str] = set()
    for ing in ingresses:
        namespace, name, _ = _meta(ing)
        for tls, hosts in tls_hosts(ing):
            secret_name = tls.get("secretName")
            if not secret_name:
                continue  # no Secret: the default certificate
            key = f"{namespace}/{secret_name}"
            pem = by_secret[key][0] if key in by_secret else _pem(
                secrets.get((namespace, str(secret_name))), key, cert_check,
                f"{namespace}/{name}", problems)
            if pem is None:
                continue
            entry = by_secret.setdefault(key, (pem, []))
            for host in hosts:
                if host not in taken:
                    taken.add(host)
                    entry[1].append(host)
    return tuple(Certificate(k, pem, tuple(hosts)) for k, (pem, hosts) in by_secret.items()
                 if hosts)


def _pem(secret: Obj | None, key: str, cert_check: CertCheck | None, source: str,
         problems: list[Problem]) -> bytes | None:
    """The Secret's certificate and key as one PEM, or None and the reason as a problem."""
    crt, private = tls_pair(secret)
    why = _pair_problem(secret, key, crt, private)
    if why is None and cert_check is not None:
        why = cert_check(crt, private)
    if why is not None:
        problems.append(Problem(source, "InvalidTLSSecret",
                                f"{why}; the hosts it should serve get the controller's default "
                                "(self-signed) certificate"))
        return None
    return crt.rstrip(b"\n") + b"\n" + private.rstrip(b"\n") + b"\n"


def tls_pair(secret: Obj | None) -> tuple[bytes, bytes]:
    """tls.crt and tls.key of a Secret (data is base64, stringData plain); b"" when missing
    (or not base64: validation refuses that before it is stored)."""
    try:
        data = data_of(secret, "Secret") if secret is not None else {}
    except (binascii.Error, ValueError):
        data = {}
    return data.get("tls.crt", b""), data.get("tls.key", b"")


def tls_secret_problem(secret: Obj | None, key: str) -> str | None:
    """Why a Secret cannot serve TLS (None when its type and PEM blocks look right)."""
    return _pair_problem(secret, key, *tls_pair(secret))


def _pair_problem(secret: Obj | None, key: str, crt: bytes, private: bytes) -> str | None:
    if secret is None:
        return f'TLS secret "{key}" not found'
    kind = secret.get("type")
    if kind != TLS_TYPE:
        return f'secret "{key}" is of type {kind or "Opaque"!r}, not {TLS_TYPE!r}'
    if b"-----BEGIN CERTIFICATE-----" not in crt:
        return f'secret "{key}": tls.crt holds no PEM certificate'
    if b"PRIVATE KEY-----" not in private:
        return f'secret "{key}": tls.key holds no PEM private key'
    return None
