"""Tests of localsvc.model.network: the address plan of an environment's bridge network."""

from __future__ import annotations

import ipaddress

import pytest

from localsvc.errors import LocalsvcError
from localsvc.model.network import choose_subnet, plan_for


@pytest.mark.parametrize(
    ("subnet", "pod_range", "cluster_ip_range", "gateway", "node_ip"),
    [
        ("10.210.0.0/16", "10.210.0.0/17", "10.210.128.0/17", "10.210.0.1", "10.210.0.2"),
        ("10.208.0.0/16", "10.208.0.0/17", "10.208.128.0/17", "10.208.0.1", "10.208.0.2"),
        ("192.168.50.0/24", "192.168.50.0/25", "192.168.50.128/25", "192.168.50.1", "192.168.50.2"),
        ("172.30.0.0/20", "172.30.0.0/21", "172.30.8.0/21", "172.30.0.1", "172.30.0.2"),
        ("10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9", "10.0.0.1", "10.0.0.2"),
    ],
)
def test_plan_for_splits_halves(subnet: str, pod_range: str, cluster_ip_range: str, gateway: str,
                                node_ip: str) -> None:
    plan = plan_for(subnet)
    assert plan.subnet == ipaddress.IPv4Network(subnet)
    assert str(plan.pod_range) == pod_range
    assert str(plan.cluster_ip_range) == cluster_ip_range
    assert plan.gateway == gateway
    assert plan.node_ip == node_ip
    assert ipaddress.IPv4Address(plan.node_ip) in plan.pod_range
    assert not plan.pod_range.overlaps(plan.cluster_ip_range)


@pytest.mark.parametrize(
    ("subnet", "fragment"),
    [
        ("10.210.0.1/16", "is not an IPv4 network such as 10.210.0.0/16"),  # host bits set
        ("not-a-subnet", "is not an IPv4 network"),
        ("10.210.0.0/33", "is not an IPv4 network"),
        ("fd00::/64", "is not an IPv4 network"),
        ("", "is not an IPv4 network"),
        ("10.210.0.0/25", "use a /24 or larger"),
        ("10.210.0.0/30", "use a /24 or larger"),
    ],
)
def test_plan_for_rejects_invalid_subnets(subnet: str, fragment: str) -> None:
    with pytest.raises(LocalsvcError) as info:
        plan_for(subnet)
    assert fragment in str(info.value)
    assert f"--subnet {subnet}" in str(info.value) or f"--subnet {subnet!r}" in str(info.value)


def test_plan_for_chains_the_parse_error() -> None:
    with pytest.raises(LocalsvcError) as info:
        plan_for("10.210.0.1/16")
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize(
    ("used", "exclude", "expected"),
    [
        ([], [], "10.208.0.0/16"),
        (["172.17.0.0/16", "192.168.0.0/20"], [], "10.208.0.0/16"),
        (["10.208.0.0/16"], [], "10.209.0.0/16"),
        (["10.208.5.0/24"], [], "10.209.0.0/16"),  # partial overlap counts
        (["10.208.0.0/15"], [], "10.210.0.0/16"),  # a larger network covers two candidates
        (["10.208.0.0/16"], ["10.209.0.0/16"], "10.210.0.0/16"),
        (["10.208.0.1/16"], [], "10.209.0.0/16"),  # host bits tolerated
        (["garbage", "fd00::/8", "10.208.0.0/16"], [], "10.209.0.0/16"),  # bad and IPv6 ignored
        ([f"10.{i}.0.0/16" for i in range(208, 254)], [], "10.254.0.0/16"),
    ],
)
def test_choose_subnet_skips_overlaps(used: list[str], exclude: list[str], expected: str) -> None:
    assert choose_subnet(used, exclude) == expected


@pytest.mark.parametrize("used", [["10.0.0.0/8"], [f"10.{i}.0.0/16" for i in range(208, 255)], ["0.0.0.0/0"]])
def test_choose_subnet_none_left(used: list[str]) -> None:
    with pytest.raises(LocalsvcError, match="no free subnet left"):
        choose_subnet(used)


def test_chosen_subnet_is_plannable() -> None:
    plan = plan_for(choose_subnet(["10.208.0.0/16"]))
    assert plan.node_ip == "10.209.0.2"
