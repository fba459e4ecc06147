"""Tests of localsvc.model.allocation: stable ClusterIPs, requested addresses and their problems."""

from __future__ import annotations

import ipaddress

import pytest

from localsvc.model.allocation import RESERVED, ServiceRequest, allocate, dns_ip

RANGE = "10.210.128.0/17"
NET = ipaddress.IPv4Network(RANGE)


def req(key: str, requested: str = "", headless_or_external: bool = False, line: int | None = 3) -> ServiceRequest:
    return ServiceRequest(key, requested, headless_or_external, file="app.yaml", line=line)


@pytest.mark.parametrize(
    ("cluster_range", "expected"),
    [("10.96.0.0/12", "10.96.0.10"), (RANGE, "10.210.128.10"), ("192.168.5.0/24", "192.168.5.10")],
)
def test_dns_ip(cluster_range: str, expected: str) -> None:
    assert dns_ip(cluster_range) == expected


def test_allocation_is_in_range_unreserved_and_unique() -> None:
    requests = [req(f"default/svc-{i}") for i in range(50)]
    table, problems = allocate(requests, {}, RANGE)
    assert problems == []
    assert set(table) == {r.key for r in requests}
    assert len(set(table.values())) == 50
    for ip in table.values():
        address = ipaddress.IPv4Address(ip)
        assert address in NET
        assert int(address) - int(NET.network_address) > RESERVED
        assert address != NET.broadcast_address


def test_allocation_is_deterministic_and_stable_across_calls() -> None:
    requests = [req("default/web"), req("shop/api"), req("shop/db")]
    first, _ = allocate(requests, {}, RANGE)
    again, _ = allocate(list(reversed(requests)), {}, RANGE)
    assert again == first  # same manifests, same addresses, whatever the order
    # Held addresses are kept when more Services arrive, and when their order changes.
    more, problems = allocate([req("default/new"), *reversed(requests)], first, RANGE)
    assert problems == []
    assert {k: more[k] for k in first} == first


def test_held_address_is_kept_even_if_the_hash_would_differ() -> None:
    held = {"default/web": "10.210.200.200"}
    table, problems = allocate([req("default/web")], held, RANGE)
    assert (table, problems) == (held, [])


@pytest.mark.parametrize("address", ["10.210.128.11", "10.210.200.7", "10.210.255.254"])
def test_requested_address_is_honoured(address: str) -> None:
    table, problems = allocate([req("default/web", address), req("default/other")], {}, RANGE)
    assert problems == []
    assert table["default/web"] == address
    assert table["default/other"] != address


def test_requested_address_equal_to_held_is_fine() -> None:
    table, problems = allocate([req("default/web", "10.210.128.50")], {"default/web": "10.210.128.50"}, RANGE)
    assert (table, problems) == ({"default/web": "10.210.128.50"}, [])


def test_hash_allocation_avoids_explicitly_requested_addresses() -> None:
    # Find where "default/auto" would land, then let another Service request that address.
    natural, _ = allocate([req("default/auto")], {}, RANGE)
    wanted = natural["default/auto"]
    table, problems = allocate([req("default/auto"), req("default/pinned", wanted)], {}, RANGE)
    assert problems == []
    assert table["default/pinned"] == wanted
    assert table["default/auto"] != wanted


@pytest.mark.parametrize(
    ("requested", "current", "fragment"),
    [
        ("10.96.0.1", {}, "is not in this environment's ClusterIP range 10.210.128.0/17"),
        ("10.210.0.20", {}, "is not in this environment's ClusterIP range"),  # pod half
        ("10.210.128.0", {}, "first 10 addresses reserved"),
        ("10.210.128.1", {}, "first 10 addresses reserved"),
        ("10.210.128.10", {}, "first 10 addresses reserved"),  # kube-dns
        ("10.210.255.255", {}, "is not in this environment's ClusterIP range"),  # broadcast
        ("not-an-ip", {}, '"not-an-ip" is not a valid IPv4 address'),
        ("10.210.128.77", {"default/other": "10.210.128.77"}, "already allocated to Service default/other"),
        ("10.210.128.77", {"default/web": "10.210.128.78"},
         "field is immutable: the Service has 10.210.128.78"),
    ],
)
def test_bad_requests_are_problems(requested: str, current: dict[str, str], fragment: str) -> None:
    requests = [req("default/web", requested, line=12), *[req(k) for k in current if k != "default/web"]]
    table, problems = allocate(requests, current, RANGE)
    assert len(problems) == 1
    [p] = problems
    assert (p.file, p.line, p.kind, p.name, p.path) == ("app.yaml", 12, "Service", "web", "spec.clusterIP")
    assert fragment in p.message
    assert str(p).startswith("app.yaml:12: Service/web: spec.clusterIP: ")
    assert "default/web" not in table  # a failed request gets no address at all
    for key, ip in current.items():
        if key != "default/web":
            assert table[key] == ip


def test_two_services_requesting_the_same_address() -> None:
    table, problems = allocate([req("a/one", "10.210.130.1"), req("a/two", "10.210.130.1")], {}, RANGE)
    assert table == {"a/one": "10.210.130.1"}
    assert [p.name for p in problems] == ["two"]
    assert "already allocated to Service a/one" in problems[0].message


@pytest.mark.parametrize("requested", ["", "None"])
def test_headless_and_external_name_get_none(requested: str) -> None:
    table, problems = allocate(
        [req("default/headless", requested, headless_or_external=True),
         req("default/ext", "", headless_or_external=True)],
        {"default/headless": "10.210.128.40"},
        RANGE,
    )
    assert (table, problems) == ({}, [])


def test_address_is_freed_when_the_service_is_removed() -> None:
    current = {"default/old": "10.210.128.99", "default/kept": "10.210.128.98"}
    table, problems = allocate([req("default/kept"), req("default/new", "10.210.128.99")], current, RANGE)
    assert problems == []
    assert table == {"default/kept": "10.210.128.98", "default/new": "10.210.128.99"}


def test_full_range_is_a_problem() -> None:
    small = "192.168.7.0/28"  # 16 addresses: 0-10 reserved, 15 broadcast -> 4 usable
    requests = [req(f"default/s{i}") for i in range(5)]
    table, problems = allocate(requests, {}, small)
    assert len(table) == 4
    assert len(problems) == 1
    assert problems[0].path == "spec.clusterIP"
    assert "no free ClusterIP left in 192.168.7.0/28" in problems[0].message
    assert set(table.values()) == {"192.168.7.11", "192.168.7.12", "192.168.7.13", "192.168.7.14"}
