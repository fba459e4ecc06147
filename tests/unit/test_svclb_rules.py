"""The svclb's kernel forwarding: golden rulesets (UPDATE_GOLDEN=1 rewrites the files under
golden/), loadBalancerSourceRanges with the relay's meaning, the node's choice of path, and why a
container refuses the kernel path. The integration tests check that every golden ruleset is
accepted by `nft -c` in a container of the bookworm base image (the node's nft version)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import subprocess
from pathlib import Path

import pytest

from localsvc.errors import LocalsvcError
from localsvc.model.snapshot import ServiceInfo, ServicePort, Snapshot
from localsvc.net.forwarder import ForwardRule, _Sources, rules_to_json
from localsvc.net.svclbrules import SourceCheck, render_svclb_ruleset, source_check
from localsvc.net.dataplane import NftDataplane, UserspaceDataplane
from localsvc.net.svclbrun import program_kernel, run_svclb
from localsvc.node.network import NetworkSync
from localsvc.node.svclb import KERNEL_SYSCTLS, desired_forwarders, spec_json
from tests.unit.node_builders import controller

GOLDEN = Path(__file__).parent / "golden"
BASE_IMAGE = "localsvc/debian-python:bookworm-f2a1e29fa650"
GATEWAY = "10.9.0.1"
CLUSTER_IP = "10.9.128.5"

CASES: dict[str, list[ForwardRule]] = {
    "svclb-nodeport": [
        ForwardRule(30080, "TCP", CLUSTER_IP, 80),
        ForwardRule(30053, "UDP", CLUSTER_IP, 53),
    ],
    "svclb-source-ranges": [
        ForwardRule(30080, "TCP", CLUSTER_IP, 80),
        # the LoadBalancer port: overlapping ranges, the loopback, an IPv6 range
        ForwardRule(8080, "TCP", CLUSTER_IP, 80,
                    ("10.1.0.0/16", "10.0.0.0/8", "127.0.0.1/32", "2001:db8::/32")),
        ForwardRule(20053, "UDP", CLUSTER_IP, 53, ("192.0.2.0/24", "192.0.2.7/32")),
    ],
    "svclb-ipv6-ranges-only": [
        ForwardRule(443, "TCP", CLUSTER_IP, 443, ("2001:db8::/32",)),
    ],
}


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.nft"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    text = render_svclb_ruleset(CASES[name], GATEWAY)
    path = golden_path(name)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; rerun with UPDATE_GOLDEN=1 and review"


def test_rules_without_ranges_filter_nothing() -> None:
    text = render_svclb_ruleset(CASES["svclb-nodeport"], GATEWAY)
    assert "hook forward" not in text and "set " not in text
    assert "tcp dport 30080 dnat to 10.9.128.5:80" in text
    assert "udp dport 30053 dnat to 10.9.128.5:53" in text


def kernel_admits(check: SourceCheck | None, client: str) -> bool:
    """What the rendered sources-N chain decides for a client address, in its order."""
    if check is None:
        return True
    if client == check.host_alias:
        return check.alias_allowed
    return any(ipaddress.ip_address(client) in net for net in check.networks)


RANGES = [
    ("127.0.0.0/8",),
    ("192.0.2.0/24",),
    ("10.0.0.0/8", "127.0.0.7/32"),
    ("10.9.0.0/16",),  # holds the gateway, but not the loopback it stands for
    ("2001:db8::/32",),
    ("::/0", "10.9.0.1/32"),
    (),
]
CLIENTS = [GATEWAY, "127.0.0.1", "127.0.0.7", "10.1.2.3", "10.9.0.7", "192.0.2.9", "198.51.100.1"]


@pytest.mark.parametrize("ranges", RANGES)
def test_source_ranges_mean_what_they_mean_to_the_relay(ranges: tuple[str, ...]) -> None:
    rule = ForwardRule(8080, "TCP", CLUSTER_IP, 80, ranges)
    check = source_check(rule, GATEWAY)
    relay = _Sources(ranges, GATEWAY)
    for client in CLIENTS:
        assert kernel_admits(check, client) == relay.allows(client), (ranges, client)


def test_source_check_collapses_and_keeps_ipv4() -> None:
    rule = ForwardRule(1, "UDP", CLUSTER_IP, 1, ("10.1.0.0/16", "10.0.0.0/8", "2001:db8::/32",
                                                 "10.0.0.5/8"))
    check = source_check(rule, None)
    assert check == SourceCheck((ipaddress.IPv4Network("10.0.0.0/8"),), None, False)
    text = render_svclb_ruleset([rule], None)
    assert "elements = { 10.0.0.0/8 }" in text and "ip saddr 10." not in text


def test_denied_tcp_is_reset_and_denied_udp_dropped() -> None:
    text = render_svclb_ruleset(CASES["svclb-source-ranges"], GATEWAY)
    tcp_chain = text.split("chain check-sources-1 {")[1].split("}")[0]
    udp_chain = text.split("chain check-sources-2 {")[1].split("}")[0]
    assert f"ip saddr {GATEWAY} return" in tcp_chain  # 127.0.0.1 is in the ranges
    assert tcp_chain.strip().splitlines()[-1].strip() == "meta l4proto tcp reject with tcp reset"
    assert f"ip saddr {GATEWAY} drop" in udp_chain
    assert udp_chain.strip().splitlines()[-1].strip() == "drop"
    assert "ct original proto-dst 8080 jump check-sources-1" in text
    assert "ct original proto-dst 20053 jump check-sources-2" in text


# ------------------------------------------------------------------------------- the node's side


def _snapshot() -> tuple[Snapshot, dict[str, dict[str, object]]]:
    info = ServiceInfo("default", "lb", "LoadBalancer", CLUSTER_IP,
                       (ServicePort("", "TCP", 8080, 30001), ServicePort("dns", "UDP", 53, 30002)))
    spec = {"type": "LoadBalancer", "loadBalancerSourceRanges": ["127.0.0.0/8"]}
    return Snapshot(services=(info,)), {"default/lb": {"spec": spec}}


def test_kernel_forwarders_ask_for_the_kernel_and_differ_from_relays() -> None:
    snap, objects = _snapshot()
    kernel = desired_forwarders(snap, objects, {"default/lb"}, "127.0.0.1", kernel=True)
    relay = desired_forwarders(snap, objects, {"default/lb"}, "127.0.0.1")
    assert kernel["default/lb"].kernel and not relay["default/lb"].kernel
    # a node whose proxy changed mode replaces its forwarders
    assert kernel["default/lb"].digest != relay["default/lb"].digest
    assert json.loads(spec_json(kernel["default/lb"], GATEWAY))["mode"] == "kernel"
    assert "mode" not in json.loads(spec_json(relay["default/lb"], GATEWAY))
    assert KERNEL_SYSCTLS["net.ipv4.ip_forward"] == "1"


def test_the_node_asks_for_the_kernel_where_its_own_proxy_runs_on_nftables(
        tmp_path: Path) -> None:
    cluster_range = "10.231.128.0/17"
    nft = NetworkSync(NftDataplane("eth0", cluster_range), dns=None)
    userspace = NetworkSync(UserspaceDataplane("eth0", cluster_range), dns=None)
    assert controller(tmp_path / "nft", nft)._kernel_forwarding()
    assert not controller(tmp_path / "userspace", userspace)._kernel_forwarding()
    assert not controller(tmp_path / "none")._kernel_forwarding()


# ------------------------------------------------------------------------- the container's side


def test_no_kernel_path_without_forwarding(tmp_path: Path) -> None:
    rules = CASES["svclb-nodeport"]
    off = tmp_path / "ip_forward"
    off.write_text("0\n")
    assert "forwarding is off" in str(program_kernel(rules, GATEWAY, off))
    assert "cannot read" in str(program_kernel(rules, GATEWAY, tmp_path / "missing"))


def test_a_bad_mode_is_a_clear_error() -> None:
    spec = rules_to_json(CASES["svclb-nodeport"], mode="fast")
    with pytest.raises(LocalsvcError, match='mode must be "kernel" or "relay"'):
        asyncio.run(run_svclb(spec))


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_is_valid_nft(name: str) -> None:
    result = subprocess.run(
        ["docker", "run", "--rm", "--cap-add", "NET_ADMIN", "--network", "none", "-i",
         BASE_IMAGE, "nft", "-c", "-f", "-"],
        input=golden_path(name).read_text(), capture_output=True, text=True, timeout=60,
        check=False)
    assert result.returncode == 0, result.stderr
