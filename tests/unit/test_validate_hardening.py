"""Hardening rules of issue 10: endpoint addresses, replicas, probe requests, sizes."""

from __future__ import annotations

import base64
from textwrap import dedent, indent

import pytest

from localsvc.model.load import load_text
from localsvc.model.validate import MAX_REPLICAS, validate


def _problems(text: str) -> list[str]:
    loaded = load_text(text, "t.yaml")
    assert loaded.problems == [] and loaded.skipped == []
    return [str(p) for p in validate(loaded.manifests)]


def endpoints(ip: str) -> str:
    """Endpoints x with one address `ip` (on line 5)."""
    return (
        "apiVersion: v1\nkind: Endpoints\nmetadata: {name: x}\nsubsets:\n"
        f"- addresses: [{{ip: '{ip}'}}]\n  ports: [{{port: 80}}]\n"
    )


def slice_(address_type: str, address: str) -> str:
    """EndpointSlice x with one endpoint address (on line 7)."""
    return (
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
        "metadata: {name: x, labels: {kubernetes.io/service-name: s}}\n"
        f"addressType: {address_type}\nendpoints:\n- addresses:\n  - '{address}'\n"
    )


def probe(handler: str) -> str:
    """A Pod p whose container's readinessProbe is `handler` (from line 9)."""
    return (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: c\n    image: busybox\n    readinessProbe:\n"
        + indent(dedent(handler), "      ")
    )


def deployment(replicas: int) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
        f"  replicas: {replicas}\n  selector: {{matchLabels: {{app: a}}}}\n"
        "  template:\n    metadata: {labels: {app: a}}\n"
        "    spec: {containers: [{name: c, image: busybox}]}\n"
    )


EP = "t.yaml:5: Endpoints/x: subsets[0].addresses[0].ip: "
SL = "t.yaml:7: EndpointSlice/x: endpoints[0].addresses[0]: "
HTTP = "t.yaml:9: Pod/p: spec.containers[0].readinessProbe.httpGet."

BAD = [
    pytest.param(
        endpoints("fd00::1%eth0"),
        EP + "must be an IP address without a zone (the part from '%') (got \"fd00::1%eth0\")",
        id="endpoints-zone-id",
    ),
    pytest.param(
        endpoints("fd00::1"),
        EP + 'must be an IPv4 address: localsvc environments use IPv4 only (got "fd00::1")',
        id="endpoints-ipv6",
    ),
    pytest.param(
        endpoints("0.0.0.0"), EP + 'may not be unspecified (0.0.0.0) (got "0.0.0.0")', id="unspec"
    ),
    pytest.param(
        endpoints("127.0.0.2"),
        EP + 'may not be in the loopback range (127.0.0.0/8) (got "127.0.0.2")',
        id="endpoints-loopback",
    ),
    pytest.param(
        endpoints("169.254.169.254"),
        EP + 'may not be in the link-local range (169.254.0.0/16) (got "169.254.169.254")',
        id="endpoints-link-local",
    ),
    pytest.param(
        endpoints("239.1.2.3"),
        EP + 'may not be a multicast address (224.0.0.0/4) (got "239.1.2.3")',
        id="endpoints-multicast",
    ),
    pytest.param(
        slice_("IPv4", "10.1.2.3%1"),
        SL + "must be an IP address without a zone (the part from '%') (got \"10.1.2.3%1\")",
        id="slice-zone-id",
    ),
    pytest.param(
        slice_("IPv4", "224.0.0.251"),
        SL + 'may not be a multicast address (224.0.0.0/4) (got "224.0.0.251")',
        id="slice-multicast",
    ),
    pytest.param(
        slice_("IPv6", "fd00::5"),
        't.yaml:4: EndpointSlice/x: addressType: localsvc environments use IPv4 only: an "IPv6" '
        'slice would never be used; use "IPv4" (or "FQDN")',
        id="slice-ipv6",
    ),
    pytest.param(
        deployment(MAX_REPLICAS + 1),
        "t.yaml:5: Deployment/d: spec.replicas: must be at most 100 in localsvc (got 101): every "
        "replica is a pod on this one Docker engine",
        id="replicas-over-limit",
    ),
    pytest.param(
        probe('httpGet: {port: 80, path: "/x\\r\\nX-Injected: 1"}'),
        HTTP + 'path: must not contain a carriage return, line feed or NUL character (got '
        '"/x\\r\\nX-Injected: 1")',
        id="probe-path-crlf",
    ),
    pytest.param(
        probe('httpGet: {port: 80, path: "/x\\0"}'),
        HTTP + 'path: must not contain a carriage return, line feed or NUL character (got '
        '"/x\\u0000")',
        id="probe-path-nul",
    ),
    pytest.param(
        probe('httpGet:\n  port: 80\n  httpHeaders: [{name: "X-A", value: "1\\nHost: evil"}]'),
        "t.yaml:11: Pod/p: spec.containers[0].readinessProbe.httpGet.httpHeaders[0].value: must "
        'not contain a carriage return, line feed or NUL character (got "1\\nHost: evil")',
        id="probe-header-value-lf",
    ),
    pytest.param(
        probe('httpGet:\n  port: 80\n  httpHeaders: [{name: "X A:", value: "1"}]'),
        "t.yaml:11: Pod/p: spec.containers[0].readinessProbe.httpGet.httpHeaders[0].name: a valid "
        "HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name') "
        '(got "X A:")',
        id="probe-header-name-token",
    ),
    pytest.param(
        probe("httpGet:\n  port: 80\n  httpHeaders: [{value: '1'}]"),
        "t.yaml:11: Pod/p: spec.containers[0].readinessProbe.httpGet.httpHeaders[0].name: required",
        id="probe-header-name-required",
    ),
    pytest.param(
        probe('httpGet: {port: 80, host: "a b\\r\\n"}'),
        HTTP + 'host: must be an IP address or a DNS name such as "db.example.com" (got '
        '"a b\\r\\n")',
        id="probe-host-http",
    ),
    pytest.param(
        probe("tcpSocket: {port: 80, host: under_score}"),
        't.yaml:9: Pod/p: spec.containers[0].readinessProbe.tcpSocket.host: must be an IP '
        'address or a DNS name such as "db.example.com" (got "under_score")',
        id="probe-host-tcp",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_manifest(text: str, expected: str) -> None:
    assert _problems(text) == [expected]


GOOD = [
    pytest.param(endpoints("10.210.0.5"), id="endpoints-ipv4"),
    pytest.param(slice_("IPv4", "192.168.1.9"), id="slice-ipv4"),
    pytest.param(slice_("FQDN", "db.example.com"), id="slice-fqdn"),
    pytest.param(deployment(MAX_REPLICAS), id="replicas-at-limit"),
    # The API server accepts a path without '/'; the kubelet sends it after one.
    pytest.param(probe("httpGet: {port: 80, path: 'healthz?full=1'}"), id="path-without-slash"),
    pytest.param(
        probe("httpGet:\n  port: 80\n  host: 10.1.2.3\n  httpHeaders: [{name: X, value: ''}]"),
        id="host-ip-empty-header",
    ),
    pytest.param(probe("tcpSocket: {port: 80, host: db.example.com.}"), id="host-dns-name"),
    pytest.param(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  dnsPolicy: None\n"
        "  dnsConfig: {nameservers: [169.254.20.10, '::1']}\n"
        "  containers: [{name: c, image: busybox}]\n",
        id="nameservers-any-ip",  # node-local DNS caches listen on link-local addresses
    ),
]


@pytest.mark.parametrize("text", GOOD)
def test_valid_edge_cases(text: str) -> None:
    assert _problems(text) == []


def test_nameserver_with_zone_is_rejected() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
        "  dnsConfig: {nameservers: ['fe80::1%eth0']}\n  containers: [{name: c, image: busybox}]\n"
    )
    assert _problems(text) == [
        "t.yaml:5: Pod/p: spec.dnsConfig.nameservers[0]: must be an IP address without a zone "
        "(the part from '%') (got \"fe80::1%eth0\")"
    ]


def test_dns_search_list_limits() -> None:
    many = ", ".join(f"s{i}.example" for i in range(33))
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
        f"  dnsConfig:\n    searches: [{many}]\n  containers: [{{name: c, image: busybox}}]\n"
    )
    assert _problems(text) == [
        "t.yaml:6: Pod/p: spec.dnsConfig.searches: must not have more than 32 search paths (got 33)"
    ]
    long = ", ".join(("a" * 60 + f".x{i}") for i in range(32))
    assert _problems(text.replace(many, long)) == [
        "t.yaml:6: Pod/p: spec.dnsConfig.searches: must not have more than 2048 characters, "
        "spaces included (got 2069)"
    ]


def test_configmap_and_secret_data_over_one_mebibyte() -> None:
    big = "x" * (512 * 1024)
    configmap = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
        f"  a: {big}\n  b: {big}\n"
    )
    assert _problems(configmap) == [
        "t.yaml:4: ConfigMap/c: data: too long: the ConfigMap's data and binaryData must total "
        "at most 1048576 bytes (1 MiB) (got 1048578)"
    ]
    assert _problems(configmap.replace(f"  b: {big}", "  b: x")) == []
    encoded = base64.b64encode(big.encode()).decode()
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
        f"data: {{a: {encoded}}}\nstringData: {{b: {big}}}\n"
    )
    assert _problems(secret) == []  # exactly 1 MiB of values: keys do not count for a Secret
    secret_over = secret.replace(f"{{b: {big}}}", f"{{b: {big}x}}")
    assert _problems(secret_over) == [
        "t.yaml:4: Secret/s: data: too long: the Secret's values must total at most 1048576 bytes "
        "(1 MiB) (got 1048577)"
    ]


def test_annotations_over_256_kibibytes() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n"
        f"    a: {'x' * (256 * 1024)}\n"
    )
    assert _problems(text) == [
        "t.yaml:5: ConfigMap/c: metadata.annotations: too long: must have at most 262144 bytes "
        "(got 262145)"
    ]


def test_endpointslice_list_limits() -> None:
    head = (
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
        "metadata: {name: x, labels: {kubernetes.io/service-name: s}}\naddressType: IPv4\n"
    )
    at_limit = (
        "endpoints:\n"
        + "".join(f"- addresses: ['10.1.{i // 250}.{i % 250 + 1}']\n" for i in range(1000))
        + "ports:\n"
        + "".join(f"- {{name: p{i}, port: {1000 + i}}}\n" for i in range(100))
    )
    assert _problems(head + at_limit) == []
    over = (
        "endpoints:\n"
        + "".join(f"- addresses: ['10.1.{i // 250}.{i % 250 + 1}']\n" for i in range(1001))
        + "- addresses: ["
        + ", ".join(f"'10.2.0.{i + 1}'" for i in range(101))
        + "]\nports:\n"
        + "".join(f"- {{name: p{i}, port: {1000 + i}}}\n" for i in range(101))
    )
    assert _problems(head + over) == [
        "t.yaml:5: EndpointSlice/x: endpoints: must have at most 1000 endpoints (got 1002)",
        "t.yaml:1007: EndpointSlice/x: endpoints[1001].addresses: must have at most 100 "
        "addresses (got 101)",
        "t.yaml:1008: EndpointSlice/x: ports: must have at most 100 ports (got 101)",
    ]
