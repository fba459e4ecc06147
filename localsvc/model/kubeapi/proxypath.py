"""Where a services/proxy or pods/proxy request goes, decided as the 1.32 API server decides. Pure.

The name segment is `[SCHEME:]NAME[:PORT]` (utilnet.SplitSchemeNamePort; scheme http or https).
A Service resolves through its Endpoints (pkg/registry/core/service/storage ResourceLocation): a
port number is first turned into the Service port's name, then a ready address of a subset that
carries a port of that name is picked at random. A Pod resolves to its IP and the port given, or
its first declared container port (pkg/registry/core/pod/strategy.go ResourceLocation). Every
failure is the Status the API server answers, with its words. The headers rules (hop-by-hop,
Authorization, CORS, X-Forwarded-*) are those of httputil.ReverseProxy and apimachinery's
UpgradeAwareHandler and proxy Transport.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from localsvc.model.dialerror import connect_reason
from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.connectquery import integer_syntax
from localsvc.model.kubeapi.proxyhtml import go_join
from localsvc.model.shown import show

VALID_SCHEMES = ("", "http", "https")

# RFC 7230 hop-by-hop headers, dropped both ways (httputil.ReverseProxy's hopHeaders), plus any
# header the Connection header names.
HOP_BY_HOP = frozenset({
    "connection", "proxy-connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
})
# The caller's credentials were for the API server: it deletes Authorization after
# authenticating (so a pod never sees a user's token), and a node must do the same.
CREDENTIAL_HEADERS = frozenset({"authorization"})
# "Expect: 100-continue" was the node's to answer (aiohttp's server did, before the body came);
# the backend gets the body without being asked first.
ANSWERED_HEADERS = frozenset({"expect"})
# corsRemovingTransport: the backend's CORS answers are not the API server's.
CORS_HEADERS = frozenset({
    "access-control-allow-credentials", "access-control-allow-headers",
    "access-control-allow-methods", "access-control-allow-origin",
})


@dataclass(frozen=True)
class ProxyId:
    """The parsed `[SCHEME:]NAME[:PORT]` segment."""

    scheme: str  # "", "http" or "https"
    name: str
    port: str  # "" (none), a number or a port name


@dataclass(frozen=True)
class Location:
    """Where the request is sent: scheme://host:port (port "" for a pod without one)."""

    scheme: str
    host: str
    port: str

    @property
    def netloc(self) -> str:
        """host[:port] as net.JoinHostPort writes it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.port else host

    def url(self, path: str, query: str) -> str:
        return f"{self.scheme}://{self.netloc}{path}" + (f"?{query}" if query else "")


def split_scheme_name_port(text: str) -> ProxyId | None:
    """SplitSchemeNamePort: "name", "name:port" or "scheme:name:port"; None when invalid."""
    parts = text.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in VALID_SCHEMES:
        return None
    return ProxyId(scheme, name, port)


def parse_service_id(text: str) -> ProxyId:
    found = split_scheme_name_port(text)
    if found is None:
        raise ApiError(st.bad_request(f"invalid service request {show(text)}"))
    return found


def parse_pod_id(text: str) -> ProxyId:
    found = split_scheme_name_port(text)
    if found is None:
        raise ApiError(st.bad_request(f"invalid pod request {show(text)}"))
    return found


def split_proxy_path(raw_path: str) -> tuple[str, str]:
    """The request path up to and including its `proxy` segment, and the rest ("" or "/...").

    Raw (still percent-encoded) so the backend gets the path exactly as the caller sent it."""
    parts = raw_path.split("/")
    # ["", "api", "v1", "namespaces", NS, RESOURCE, NAME, "proxy", ...]
    index = 7
    if len(parts) <= index or parts[index] != "proxy":
        raise ValueError(f"not a proxy path: {raw_path}")
    prefix = "/".join(parts[:index + 1])
    return prefix, raw_path[len(prefix):]


def service_location(service: Mapping[str, Any] | None, endpoints: Mapping[str, Any] | None,
                     proxy_id: ProxyId, raw_id: str,
                     rng: random.Random | None = None) -> Location:
    """ResourceLocation of a Service: a ready endpoint address for the named or numbered port.

    `service` and `endpoints` are the stored objects named proxy_id.name (None: absent)."""
    chooser = rng or random.Random()
    port_name = proxy_id.port
    number = integer_syntax(port_name)
    if number is not None:
        if service is None:
            raise ApiError(st.not_found(st.GroupResource("services"), proxy_id.name))
        for port in (service.get("spec") or {}).get("ports") or []:
            if port.get("port") == number:
                port_name = port.get("name") or ""
                break
        else:
            raise ApiError(st.status(503, "ServiceUnavailable",
                                     f"no service port {number} found for service "
                                     f"{show(proxy_id.name)}"))
    if endpoints is None:
        raise ApiError(st.not_found(st.GroupResource("endpoints"), proxy_id.name))
    subsets = list(endpoints.get("subsets") or [])
    if not subsets:
        raise ApiError(st.status(503, "ServiceUnavailable",
                                 f"no endpoints available for service "
                                 f"{show(proxy_id.name)}"))
    start = chooser.randrange(len(subsets))
    for offset in range(len(subsets)):
        subset = subsets[(start + offset) % len(subsets)]
        addresses = list(subset.get("addresses") or [])
        if not addresses:
            continue
        for port in subset.get("ports") or []:
            if (port.get("name") or "") == port_name:
                address = addresses[chooser.randrange(len(addresses))]
                return Location(proxy_id.scheme or "http", str(address["ip"]),
                                str(port["port"]))
    # The whole id, port included: the API server's words when the port name is unknown.
    raise ApiError(st.status(503, "ServiceUnavailable",
                             f"no endpoints available for service {show(raw_id)}"))


def pod_location(pod: Mapping[str, Any] | None, proxy_id: ProxyId) -> Location:
    """ResourceLocation of a Pod: its IP and the port given, else its first container port."""
    if pod is None:
        raise ApiError(st.not_found(st.GroupResource("pods"), proxy_id.name))
    port = proxy_id.port
    if not port:
        for container in (pod.get("spec") or {}).get("containers") or []:
            ports = container.get("ports") or []
            if ports:
                port = str(ports[0].get("containerPort", ""))
                break
    ip = str((pod.get("status") or {}).get("podIP") or "")
    if not _global_unicast(ip):
        raise ApiError(st.bad_request("address not allowed"))
    return Location(proxy_id.scheme or "http", ip, port)


def _global_unicast(ip: str) -> bool:
    """net.IP.IsGlobalUnicast: not unspecified, loopback, multicast, link-local or broadcast
    (private addresses, which pod IPs are, count as global unicast)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if address.is_unspecified or address.is_loopback or address.is_multicast:
        return False
    if address.is_link_local:
        return False
    return not (address.version == 4 and str(address) == "255.255.255.255")


def root_redirect(rest: str, method: str, raw_path: str, query: str) -> str | None:
    """The Location of the 301 the API server answers for GET/HEAD of `.../proxy` (no trailing
    slash: relative links would resolve against the wrong directory), else None."""
    if rest or method not in ("GET", "HEAD"):
        return None
    return f"{raw_path}/" + (f"?{query}" if query else "")


def forwarded_uri(prefix: str, rest: str) -> str:
    """X-Forwarded-Uri: path.Join(prefix, rest), with the trailing slash kept."""
    return go_join(prefix, rest or "/")


def request_headers(headers: Iterable[tuple[str, str]], client_ip: str) -> list[tuple[str, str]]:
    """The headers sent to the backend: the caller's, minus hop-by-hop, credentials and Expect,
    plus
    X-Forwarded-For (appended to a caller's own, as httputil.ReverseProxy does)."""
    items = list(headers)
    dropped = HOP_BY_HOP | CREDENTIAL_HEADERS | ANSWERED_HEADERS | _connection_named(items)
    out: list[tuple[str, str]] = []
    forwarded_for: list[str] = []
    for name, value in items:
        lower = name.lower()
        if lower == "x-forwarded-for":
            forwarded_for.append(value)
        elif lower not in dropped:
            out.append((name, value))
    if client_ip:
        forwarded_for.append(client_ip)
    if forwarded_for:
        out.append(("X-Forwarded-For", ", ".join(forwarded_for)))
    return out


def response_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The backend's headers passed to the caller: minus hop-by-hop and CORS headers."""
    items = list(headers)
    dropped = HOP_BY_HOP | CORS_HEADERS | _connection_named(items)
    return [(name, value) for name, value in items if name.lower() not in dropped]


def _connection_named(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    named: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            named.update(t.strip().lower() for t in value.split(",") if t.strip())
    return frozenset(named)


def unreachable(location: Location, error: BaseException) -> dict[str, Any]:
    """The 503 of proxy Transport.RoundTrip when the backend cannot be reached, in Go's words
    ("error trying to reach service: dial tcp 10.0.0.5:80: connect: connection refused")."""
    return st.status(503, "ServiceUnavailable",
                     f"error trying to reach service: {dial_error(location, error)}")


def dial_error(location: Location, error: BaseException) -> str:
    """A Python connect error as Go's net.OpError prints it."""
    address = location.netloc if location.port else f"{location.netloc}:{_default_port(location)}"
    return f"dial tcp {address}: {connect_reason(error)}"


def port_lookup_error(port: str, found: int | None) -> dict[str, Any] | None:
    """The 503 of a pod port Go's dialer cannot use, else None. `found`: the number
    /etc/services gives a named port (Go looks names up there: "http" is 80), None if none."""
    number = integer_syntax(port)
    if number is None and found is None:
        return st.status(503, "ServiceUnavailable", "error trying to reach service: dial tcp: "
                                                    f"lookup tcp/{port}: unknown port")
    if number is not None and not 0 <= number <= 0xFFFF:
        return st.status(503, "ServiceUnavailable", "error trying to reach service: dial tcp: "
                                                    f"address {port}: invalid port")
    return None


def _default_port(location: Location) -> str:
    return "443" if location.scheme == "https" else "80"


__all__ = [
    "ANSWERED_HEADERS", "CORS_HEADERS", "CREDENTIAL_HEADERS", "HOP_BY_HOP", "Location",
    "ProxyId", "dial_error", "forwarded_uri", "parse_pod_id", "parse_service_id", "pod_location",
    "port_lookup_error", "request_headers", "response_headers", "root_redirect",
    "service_location", "split_proxy_path", "split_scheme_name_port", "unreachable",
]
