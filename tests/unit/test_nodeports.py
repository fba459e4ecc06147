"""NodePort allocation and LoadBalancer host-port ownership: pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from localsvc.errors import Problem
from localsvc.model.nodeports import (
    DEFAULT_RANGE,
    LBClaim,
    PortRequest,
    allocate_node_ports,
    assign_lb_ports,
    node_port_requests,
)


def svc(name: str, kind: str, *ports: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": kind, "ports": list(ports), **spec},
    }


def req(key: str, port_key: str = "80/TCP", requested: int | None = None) -> PortRequest:
    return PortRequest(key, port_key, requested, "svc.yaml", 7, "spec.ports[0].nodePort")


def busy(*ports: int) -> Any:
    return lambda p: p in ports


# ------------------------------------------------------------------------- node_port_requests


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (svc("a", "ClusterIP", {"port": 80}), []),
        (svc("a", "ExternalName", {"port": 80}), []),
        (
            svc("a", "NodePort", {"port": 80}, {"port": 53, "protocol": "UDP", "nodePort": 30053}),
            [
                ("80/TCP", None, "spec.ports[0].nodePort"),
                ("53/UDP", 30053, "spec.ports[1].nodePort"),
            ],
        ),
        (svc("a", "LoadBalancer", {"port": 80}), [("80/TCP", None, "spec.ports[0].nodePort")]),
        (svc("a", "LoadBalancer", {"port": 80}, allocateLoadBalancerNodePorts=False), []),
        (
            svc(
                "a",
                "LoadBalancer",
                {"port": 80, "nodePort": 30080},
                allocateLoadBalancerNodePorts=False,
            ),
            [("80/TCP", 30080, "spec.ports[0].nodePort")],
        ),
        (
            svc("a", "NodePort", {"port": 80, "nodePort": 0}),
            [("80/TCP", None, "spec.ports[0].nodePort")],
        ),
    ],
)
def test_node_port_requests(
    service: dict[str, Any], expected: list[tuple[str, int | None, str]]
) -> None:
    got = node_port_requests(service, "s.yaml", {"spec.ports[0]": 9, "spec.ports[1].nodePort": 14})
    assert [(r.port_key, r.requested, r.path) for r in got] == expected
    assert all(r.service_key == "default/a" and r.file == "s.yaml" for r in got)
    assert [r.line for r in got] == [9, 14][: len(got)]


# ------------------------------------------------------------------------ allocate_node_ports


def test_from_scratch_deterministic_and_in_range() -> None:
    requests = [req(f"default/s{i}", f"{80 + j}/TCP") for i in range(20) for j in range(3)]
    first, problems = allocate_node_ports(requests, {})
    again, _ = allocate_node_ports(requests, {})
    assert problems == [] and first == again
    ports = [p for table in first.values() for p in table.values()]
    assert len(ports) == 60 == len(set(ports))
    assert all(DEFAULT_RANGE[0] <= p <= DEFAULT_RANGE[1] for p in ports)


def test_stable_with_current_and_freed_when_service_leaves() -> None:
    current = {"default/a": {"80/TCP": 31000}, "default/gone": {"80/TCP": 31001}}
    out, problems = allocate_node_ports(
        [req("default/a"), req("default/b", requested=31001)], current
    )
    assert problems == []
    assert out == {"default/a": {"80/TCP": 31000}, "default/b": {"80/TCP": 31001}}


def test_port_removed_from_service_is_freed() -> None:
    current = {"default/a": {"80/TCP": 31000, "81/TCP": 31001}}
    out, _ = allocate_node_ports([req("default/a"), req("default/b", requested=31001)], current)
    assert out == {"default/a": {"80/TCP": 31000}, "default/b": {"80/TCP": 31001}}


def test_explicit_change_moves_the_port() -> None:
    out, problems = allocate_node_ports(
        [req("default/a", requested=30500)], {"default/a": {"80/TCP": 31000}}
    )
    assert problems == [] and out == {"default/a": {"80/TCP": 30500}}


def test_host_in_use_is_not_asked_about_ports_the_service_holds() -> None:
    out, problems = allocate_node_ports(
        [req("default/a", requested=31000)],
        {"default/a": {"80/TCP": 31000}},
        host_in_use=busy(31000),
    )
    assert problems == [] and out == {"default/a": {"80/TCP": 31000}}


@pytest.mark.parametrize(
    ("requests", "current", "host", "message"),
    [
        (
            [req("default/a", requested=80)],
            {},
            busy(),
            (
                "Invalid value: 80: provided port is not in the valid range. "
                "The range of valid ports is 30000-32767"
            ),
        ),
        (
            [req("default/a", requested=30080)],
            {"default/web": {"80/TCP": 30080}, "default/a": {}},
            busy(),
            (
                "Invalid value: 30080: provided port is already allocated (to Service "
                "default/web); choose another nodePort or omit it"
            ),
        ),
        (
            [req("default/a", requested=30080)],
            {},
            busy(30080),
            (
                "port 30080 is already in use on the host by another program; stop it or "
                "choose another nodePort"
            ),
        ),
    ],
)
def test_explicit_problems(
    requests: list[PortRequest], current: dict[str, dict[str, int]], host: Any, message: str
) -> None:
    if "default/web" in current:
        requests = [req("default/web"), *requests]
    _, problems = allocate_node_ports(requests, current, host_in_use=host)
    assert problems == [Problem("svc.yaml", 7, "Service", "a", "spec.ports[0].nodePort", message)]


def test_explicit_clash_between_two_new_services() -> None:
    out, problems = allocate_node_ports(
        [req("default/a", requested=30080), req("default/b", requested=30080)], {}
    )
    assert out["default/a"] == {"80/TCP": 30080}
    assert [p.name for p in problems] == ["b"]
    assert "already allocated (to Service default/a)" in problems[0].message


def test_all_problems_at_once() -> None:
    _, problems = allocate_node_ports(
        [req("default/a", requested=1), req("default/b", requested=2)], {}
    )
    assert [p.name for p in problems] == ["a", "b"]


def test_auto_allocation_skips_taken_and_busy_ports() -> None:
    lo, hi = 30000, 30004
    out, problems = allocate_node_ports(
        [req("default/a", requested=30000), req("default/b")],
        {},
        (lo, hi),
        host_in_use=busy(30001, 30002, 30003),
    )
    assert problems == [] and out["default/b"] == {"80/TCP": 30004}


def test_tcp_and_udp_of_one_port_share() -> None:
    requests = [
        req("default/dns", "53/TCP", 30053),
        req("default/dns", "53/UDP", 30053),
        req("default/auto", "53/TCP"),
        req("default/auto", "53/UDP"),
    ]
    out, problems = allocate_node_ports(requests, {})
    assert problems == []
    assert out["default/dns"] == {"53/TCP": 30053, "53/UDP": 30053}
    assert out["default/auto"]["53/TCP"] == out["default/auto"]["53/UDP"] != 30053


def test_explicit_protocol_sibling_is_inherited() -> None:
    out, problems = allocate_node_ports(
        [req("default/dns", "53/TCP"), req("default/dns", "53/UDP", 30053)], {}
    )
    assert problems == [] and out["default/dns"] == {"53/TCP": 30053, "53/UDP": 30053}


def test_same_node_port_for_two_port_numbers_is_a_duplicate() -> None:
    _, problems = allocate_node_ports(
        [req("default/a", "80/TCP", 30080), req("default/a", "81/UDP", 30080)], {}
    )
    assert len(problems) == 1
    assert problems[0].message.startswith("Duplicate value: 30080: already the nodePort of port 80")


def test_full_tiny_range() -> None:
    out, problems = allocate_node_ports(
        [req(f"default/s{i}") for i in range(4)], {}, (30000, 30002)
    )
    assert sorted(p for t in out.values() for p in t.values()) == [30000, 30001, 30002]
    assert [p.message for p in problems] == ["no free node port left in the range 30000-30002"]
    assert problems[0].path == "spec.ports[0].nodePort" and problems[0].line == 7


# ---------------------------------------------------------------------------- assign_lb_ports


def claim(
    key: str, port: int = 8080, created: str = "2026-01-01T00:00:00Z", protocol: str = "TCP"
) -> LBClaim:
    return LBClaim(key, port, protocol, created)


def test_second_lb_on_same_port_is_pending_then_gets_it() -> None:
    web = claim("default/web", created="2026-01-01T00:00:00Z")
    api = claim("default/api", created="2026-01-02T00:00:00Z")
    owners, pending = assign_lb_ports([api, web], {})
    assert owners == {"8080/TCP": "default/web"}
    assert pending == {
        "default/api": "port 8080/TCP is held by LoadBalancer default/web; this Service stays "
        "<pending> until it is free"
    }
    owners, pending = assign_lb_ports([api], owners)
    assert owners == {"8080/TCP": "default/api"} and pending == {}


def test_current_owner_kept_even_if_newer_claimant_comes_first() -> None:
    old = claim("default/old", created="2026-01-05T00:00:00Z")
    new = claim("default/new", created="2026-01-01T00:00:00Z")
    owners, pending = assign_lb_ports([new, old], {"8080/TCP": "default/old"})
    assert owners == {"8080/TCP": "default/old"} and list(pending) == ["default/new"]


def test_all_or_nothing() -> None:
    first = claim("default/first", 8080)
    both = [claim("default/both", 8080, "2026-02-01"), claim("default/both", 9090, "2026-02-01")]
    owners, pending = assign_lb_ports([first, *both], {})
    assert owners == {"8080/TCP": "default/first"}
    assert "9090" not in " ".join(owners) and "default/both" in pending


def test_tie_broken_by_key_and_protocols_are_separate() -> None:
    owners, pending = assign_lb_ports(
        [claim("default/b"), claim("default/a"), claim("default/c", protocol="UDP")], {}
    )
    assert owners == {"8080/TCP": "default/a", "8080/UDP": "default/c"}
    assert list(pending) == ["default/b"]


def test_host_in_use_makes_pending_but_not_for_own_ports() -> None:
    def in_use(port: int, protocol: str) -> bool:
        return (port, protocol) == (8080, "TCP")

    owners, pending = assign_lb_ports([claim("default/web")], {}, in_use)
    assert owners == {}
    assert pending == {
        "default/web": "port 8080/TCP is already in use on the host by another program; "
        "this Service stays <pending> until it is free"
    }
    owners, pending = assign_lb_ports([claim("default/web")], {"8080/TCP": "default/web"}, in_use)
    assert owners == {"8080/TCP": "default/web"} and pending == {}


def test_pending_holder_releases_its_other_ports() -> None:
    # old holds 8080 and now also wants 9090, held by other: old is pending, 8080 goes to new.
    claims = [
        claim("default/old", 8080, "2026-01-01"),
        claim("default/old", 9090, "2026-01-01"),
        claim("default/other", 9090, "2026-01-02"),
        claim("default/new", 8080, "2026-01-03"),
    ]
    current = {"8080/TCP": "default/old", "9090/TCP": "default/other"}
    owners, pending = assign_lb_ports(claims, current)
    assert owners == {"8080/TCP": "default/new", "9090/TCP": "default/other"}
    assert pending["default/old"].startswith("port 9090/TCP is held by LoadBalancer default/other")


def test_environments_with_the_same_manifests_choose_different_ports() -> None:
    """Host ports are shared by every environment on the engine: the seed (the environment's
    name) keeps two environments of the same manifests from wanting the same nodePort."""
    from localsvc.model.nodeports import PortRequest, allocate_node_ports

    request = [PortRequest("default/web", "80/TCP", None)]
    ports = {allocate_node_ports(request, {}, seed=f"worker-{i}")[0]["default/web"]["80/TCP"]
             for i in range(8)}
    assert len(ports) >= 7
    same = allocate_node_ports(request, {}, seed="a")[0] == allocate_node_ports(request, {}, seed="a")[0]
    assert same
