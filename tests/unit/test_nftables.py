"""Golden tests of the nftables renderer; UPDATE_GOLDEN=1 rewrites the files under golden/.

The integration tests check that every golden ruleset is accepted by `nft -c` in a container
of the bookworm base image (the node's nft version)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
from localsvc.net.nftables import checked_port_rules, cluster_ips, render_ruleset

GOLDEN = Path(__file__).parent / "golden"
BASE_IMAGE = "localsvc/debian-python:bookworm-f2a1e29fa650"


def ep(ip: str, ready: bool = True, **ports: int) -> Endpoint:
    return Endpoint(ip=ip, ready=ready, ports={k.replace("_", "-"): v for k, v in ports.items()})


def unnamed(ip: str, port: int, ready: bool = True) -> Endpoint:
    return Endpoint(ip=ip, ready=ready, ports={"": port})


CASES: dict[str, Snapshot] = {
    "three-endpoints": Snapshot(
        services=(
            ServiceInfo(
                "default",
                "web",
                "ClusterIP",
                "10.96.128.20",
                (ServicePort("", "TCP", 80),),
                (
                    unnamed("10.96.0.7", 8080),
                    unnamed("10.96.0.5", 8080),
                    unnamed("10.96.0.6", 8080),
                    unnamed("10.96.0.9", 8080, ready=False),
                ),
            ),
        )
    ),
    "multi-port": Snapshot(
        dns_ip="10.96.128.10",
        services=(
            ServiceInfo(
                "apps",
                "dns-and-web",
                "NodePort",
                "10.96.128.30",
                (
                    ServicePort("http", "TCP", 80, node_port=30080),
                    ServicePort("dns-udp", "UDP", 53),
                    ServicePort("dns-tcp", "TCP", 53),
                ),
                (
                    ep("10.96.0.11", http=8080, dns_udp=5353, dns_tcp=5353),
                    ep("10.96.0.12", http=9090, dns_udp=1053, dns_tcp=1053),
                    ep("10.96.0.13", http=8080),
                ),
            ),  # no dns ports on this pod
        ),
    ),
    "affinity": Snapshot(
        services=(
            ServiceInfo(
                "default",
                "sticky",
                "ClusterIP",
                "10.96.128.40",
                (ServicePort("", "TCP", 443),),
                (unnamed("10.96.0.21", 8443), unnamed("10.96.0.22", 8443)),
                affinity_timeout=10800,
            ),
        )
    ),
    "no-endpoints": Snapshot(
        services=(
            ServiceInfo(
                "default",
                "down",
                "ClusterIP",
                "10.96.128.50",
                (ServicePort("web", "TCP", 80), ServicePort("stats", "UDP", 8125)),
                (ep("10.96.0.31", ready=False, web=80, stats=8125),),
            ),
            ServiceInfo(
                "default",
                "no-pods",
                "LoadBalancer",
                "10.96.128.51",
                (ServicePort("", "TCP", 80),),
                (),
            ),
        )
    ),
    "headless-and-externalname": Snapshot(
        services=(
            ServiceInfo(
                "default",
                "db",
                "ClusterIP",
                None,
                (ServicePort("", "TCP", 5432),),
                (unnamed("10.96.0.41", 5432),),
            ),
            ServiceInfo(
                "default",
                "ext",
                "ExternalName",
                None,
                (ServicePort("", "TCP", 443),),
                external_name="example.com",
            ),
        )
    ),
}


def golden_path(name: str) -> Path:
    return GOLDEN / f"{name}.nft"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    text = render_ruleset(CASES[name])
    path = golden_path(name)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; rerun with UPDATE_GOLDEN=1 and review"


def test_render_is_deterministic_regardless_of_input_order() -> None:
    snap = CASES["three-endpoints"]
    svc = snap.services[0]
    shuffled = Snapshot(
        services=(
            ServiceInfo(
                svc.namespace,
                svc.name,
                svc.type,
                svc.cluster_ip,
                svc.ports,
                tuple(reversed(svc.endpoints)),
            ),
        )
    )
    assert render_ruleset(shuffled) == render_ruleset(snap)


def test_three_endpoints_spread_and_skip_unready() -> None:
    text = render_ruleset(CASES["three-endpoints"])
    # each of 3 endpoints with 1/3: the port goes to the chain of 3, which picks index 0-2
    assert 'comment "default/web/tcp/80" : goto spread\n' in text
    assert "10.96.128.20 . tcp . 80 : goto spread-3\n" in text
    chain = text.split("chain spread-3 {\n", 1)[1].split("\n\t}", 1)[0]
    assert "dnat ip to ip daddr . meta l4proto . tcp dport . numgen random mod 3 " \
        "map @endpoints" in chain
    for i, ip in enumerate(["10.96.0.5", "10.96.0.6", "10.96.0.7"]):
        assert f"10.96.128.20 . tcp . 80 . {i} : {ip} . 8080" in text
    assert "10.96.128.20 . tcp . 80 . 3" not in text and "10.96.0.9" not in text
    assert "chain svc-" not in text and "chain ep-" not in text


def test_affinity_keeps_a_chain_per_endpoint() -> None:
    text = render_ruleset(CASES["affinity"])
    chain = text.split("chain svc-", 1)[1].split("\n\t}", 1)[0]
    spread = [line.rsplit("goto ", 1)[0].strip() for line in chain.splitlines()[1:]]
    # pinned clients first; then each of 2 endpoints with 1/2: the first 1/2, the last the rest
    assert spread[-2:] == ["numgen random mod 2 == 0", ""]
    assert "chain spread-" not in text


def test_named_ports_resolve_per_endpoint() -> None:
    text = render_ruleset(CASES["multi-port"])
    assert "10.96.128.30 . tcp . 80 . 1 : 10.96.0.12 . 9090" in text
    assert "10.96.128.30 . udp . 53 . 1 : 10.96.0.12 . 1053" in text
    assert "10.96.128.30 . udp . 53 . 2 :" not in text  # pod without the named port


def test_no_ready_endpoint_rejects() -> None:
    text = render_ruleset(CASES["no-endpoints"])
    assert '10.96.128.50 . tcp . 80 comment "default/down/tcp/web" : goto reject-service' in text
    assert " : goto spread-" not in text and "chain spread-" not in text


def test_headless_and_externalname_get_no_rules() -> None:
    text = render_ruleset(CASES["headless-and-externalname"])
    assert text == render_ruleset(Snapshot())
    assert cluster_ips(CASES["headless-and-externalname"]) == set()


def test_cluster_ips_include_dns() -> None:
    assert cluster_ips(CASES["multi-port"]) == {"10.96.128.30", "10.96.128.10"}


def test_long_names_are_valid_identifiers() -> None:
    long = "a" * 63
    snap = Snapshot(
        services=(
            ServiceInfo(
                long,
                long,
                "ClusterIP",
                "10.96.128.60",
                (ServicePort(long[:15], "TCP", 80),),
                (Endpoint("10.96.0.1", True, {long[:15]: 80}),),
            ),
        )
    )
    text = render_ruleset(snap)
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["chain"] or words[:1] == ["set"]:
            assert len(words[1]) <= 80, words[1]


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_is_valid_nft(name: str) -> None:
    result = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--cap-add",
            "NET_ADMIN",
            "--network",
            "none",
            "-i",
            BASE_IMAGE,
            "nft",
            "-c",
            "-f",
            "-",
        ],
        input=golden_path(name).read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_ruleset_applies_twice_and_replaces() -> None:
    """First apply creates the table, a second apply with other content replaces it whole."""
    script = (
        "set -e; cat > /tmp/a; nft -f /tmp/a; nft -f /tmp/a; "
        "printf '%s' \"$B\" | nft -f -; nft list table ip localsvc"
    )
    result = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--cap-add",
            "NET_ADMIN",
            "--network",
            "none",
            "-i",
            "-e",
            f"B={render_ruleset(CASES['no-endpoints'])}",
            BASE_IMAGE,
            "sh",
            "-c",
            script,
        ],
        input=render_ruleset(CASES["affinity"]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "reject-service" in result.stdout and "aff-" not in result.stdout


def test_affinity_pins_carry_over_to_the_new_table() -> None:
    snap = CASES["affinity"]
    text = render_ruleset(snap)
    name = next(w for w in text.split() if w.startswith("aff-") and w.endswith("10.96.0.22/8443"))
    carried = render_ruleset(
        snap, affinity={name: {"10.96.0.77": 500, "10.96.0.78": 0}, "aff-gone": {"10.96.0.79": 9}}
    )
    extra = carried[len(text) :]
    assert extra == (
        f"add element ip localsvc {name} {{ 10.96.0.77 timeout 10800s expires 500s }}\n"
    )


# ---- stored objects the proxy cannot serve: no rules for them, the ruleset for the rest --------

GOOD = ServiceInfo("default", "good", "ClusterIP", "10.96.128.70", (ServicePort("", "TCP", 80),),
                   (unnamed("10.96.0.31", 8080),))

BAD_ADDRESSES = {
    # Issue 10 case 1: an Endpoints address with an IPv6 zone ID failed the whole ruleset.
    "zone-id": unnamed("fd00::1%x", 80),
    "ipv6": unnamed("fd00::1", 80),
    "target-port-out-of-range": unnamed("10.96.0.40", 70000),
}

BAD_SERVICES = {
    "bad-cluster-ip": ServiceInfo("default", "bad", "ClusterIP", "fd00::5",
                                  (ServicePort("", "TCP", 80),), (unnamed("10.96.0.40", 80),)),
    "bad-protocol": ServiceInfo("default", "bad", "ClusterIP", "10.96.128.71",
                                (ServicePort("", "ICMP", 80),), (unnamed("10.96.0.40", 80),)),
    "quote-in-name": ServiceInfo("default", 'bad"x', "ClusterIP", "10.96.128.71",
                                 (ServicePort("", "TCP", 80),), (unnamed("10.96.0.40", 80),)),
}


@pytest.mark.parametrize("case", sorted(BAD_SERVICES))
def test_unservable_service_gets_no_rules_and_a_problem(case: str) -> None:
    bad = BAD_SERVICES[case]
    rules, problems = checked_port_rules(Snapshot(services=(GOOD, bad)))
    assert [r.service for r in rules] == ["good"]
    assert [p.object for p in problems] == [f"Service/default/{bad.name}"]
    text = render_ruleset(Snapshot(services=(GOOD, bad)))
    assert text == render_ruleset(Snapshot(services=(GOOD,)))
    assert " : 10.96.0.31 . 8080" in text


@pytest.mark.parametrize("case", sorted(BAD_ADDRESSES))
def test_unservable_address_is_left_out_and_reported(case: str) -> None:
    # The Service keeps its ClusterIP, rejecting at once (no ready endpoint remains); the bad
    # address gets no rule and the other Services are programmed as without it.
    bad = ServiceInfo("default", "bad", "ClusterIP", "10.96.128.71",
                      (ServicePort("", "TCP", 80),), (BAD_ADDRESSES[case],))
    rules, problems = checked_port_rules(Snapshot(services=(GOOD, bad)))
    assert [(r.service, len(r.backends)) for r in rules] == [("bad", 0), ("good", 1)]
    assert [p.object for p in problems] == ["Endpoints/default/bad"]
    text = render_ruleset(Snapshot(services=(GOOD, bad)))
    without = render_ruleset(Snapshot(services=(GOOD, replace(bad, endpoints=()))))
    assert text == without
    assert '10.96.128.71 . tcp . 80 comment "default/bad/tcp/80" : goto reject-service' in text


def test_only_the_bad_address_is_left_out_of_a_service() -> None:
    mixed = ServiceInfo("default", "mixed", "ClusterIP", "10.96.128.72",
                        (ServicePort("", "TCP", 80),),
                        (unnamed("10.96.0.41", 80), unnamed("fd00::1%x", 80)))
    rules, problems = checked_port_rules(Snapshot(services=(mixed,)))
    assert [b.ip for b in rules[0].backends] == ["10.96.0.41"]
    assert [p.object for p in problems] == ["Endpoints/default/mixed"]
    assert "fd00::1%x" in problems[0].message


def test_bad_cluster_ip_is_not_an_address_to_hold() -> None:
    assert cluster_ips(Snapshot(services=(GOOD, BAD_SERVICES["bad-cluster-ip"]))) == {
        "10.96.128.70"}


def test_golden_cases_have_no_problems() -> None:
    for snap in CASES.values():
        assert checked_port_rules(snap)[1] == []
