"""The node's network Snapshot from stored objects: what cannot be served is skipped and named,
never raised (a raise here crash-looped the node on its own state, issue 10 case 1)."""

from __future__ import annotations

from typing import Any

import pytest

from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot, screen
from localsvc.node.services import checked_snapshot

Obj = dict[str, Any]


def service(name: str, **spec: Any) -> Obj:
    return {"kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"port": 80}], **spec}}


def endpoints(name: str, *ips: str) -> Obj:
    return {"kind": "Endpoints", "metadata": {"name": name, "namespace": "default"},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": 8080}]}]}


def build(objects: dict[str, Obj]) -> tuple[Snapshot, list[Any]]:
    return checked_snapshot(objects, {"default/good": "10.9.128.5", "default/bad": "10.9.128.6"},
                            [], "cluster.local", "10.9.128.10", "10.9.0.2")


def by_name(snapshot: Snapshot) -> dict[str, ServiceInfo]:
    return {s.name: s for s in snapshot.services}


GOOD = {"Service/default/good": service("good"),
        "Endpoints/default/good": endpoints("good", "10.9.0.7")}


@pytest.mark.parametrize("address", ["fd00::1%x", "fd00::1", "10.9.0.300", "010.9.0.7", ""])
def test_bad_endpoints_address_is_skipped_and_named(address: str) -> None:
    snapshot, problems = build({**GOOD, "Service/default/bad": service("bad"),
                                "Endpoints/default/bad": endpoints("bad", "10.9.0.8", address)})
    services = by_name(snapshot)
    assert [e.ip for e in services["bad"].endpoints] == ["10.9.0.8"]
    assert services["good"] == by_name(build(GOOD)[0])["good"]
    assert [p.object for p in problems] == ["Endpoints/default/bad"]
    assert f'"{address}"' in problems[0].message


def test_malformed_stored_endpoints_skips_only_its_service() -> None:
    broken = {"kind": "Endpoints", "metadata": {"name": "bad", "namespace": "default"},
              "subsets": [{"addresses": [{"hostname": "no-ip"}], "ports": [{"port": "x"}]}]}
    snapshot, problems = build({**GOOD, "Service/default/bad": service("bad"),
                                "Endpoints/default/bad": broken})
    assert set(by_name(snapshot)) == {"kube-dns", "good"}
    assert [p.object for p in problems] == ["Service/default/bad"]
    assert "not served" in problems[0].message


def test_malformed_stored_slice_is_skipped() -> None:
    snapshot, problems = build({**GOOD, "EndpointSlice/default/s": {"kind": "EndpointSlice",
                                                                    "metadata": None}})
    assert "good" in by_name(snapshot)
    assert [p.object for p in problems] == ["EndpointSlice/default/s"]


def test_clean_objects_give_no_problems() -> None:
    snapshot, problems = build(GOOD)
    assert problems == [] and screen(snapshot) == (snapshot, [])


def test_screen_drops_a_service_with_a_bad_cluster_ip_and_keeps_the_rest() -> None:
    good = ServiceInfo("default", "good", "ClusterIP", "10.9.128.5", (ServicePort("", "TCP", 80),),
                       (Endpoint("10.9.0.7", True, {"": 8080}),))
    bad = ServiceInfo("default", "bad", "NodePort", "10.9.128.6",
                      (ServicePort("", "TCP", 80, node_port=99999),))
    screened, problems = screen(Snapshot(services=(good, bad)))
    assert screened.services == (good,)
    assert [p.object for p in problems] == ["Service/default/bad"]
    assert "nodePort 99999" in problems[0].message
