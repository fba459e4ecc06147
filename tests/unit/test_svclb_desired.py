"""svclb: which forwarders a snapshot wants, and which Services a reconcile must touch."""

from __future__ import annotations

from typing import Any

from localsvc.model.snapshot import ServiceInfo, ServicePort, Snapshot
from localsvc.node.svclb import Publish, changed_services, desired_forwarders


def _info(name: str, type_: str, ports: tuple[ServicePort, ...],
          ip: str | None = "10.9.128.5") -> ServiceInfo:
    return ServiceInfo("default", name, type_, ip, ports)


def _objects(**specs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"default/{name}": {"spec": spec} for name, spec in specs.items()}


def test_a_node_port_service_publishes_its_node_ports() -> None:
    snap = Snapshot(services=(_info("np", "NodePort", (ServicePort("", "TCP", 80, 30080),)),))
    wanted = desired_forwarders(snap, _objects(np={"type": "NodePort"}), set(), "127.0.0.1")
    assert list(wanted) == ["default/np"]
    assert wanted["default/np"].publish == (Publish(30080, "TCP", 30080),)
    assert [(r.listen_port, r.target_ip, r.target_port) for r in wanted["default/np"].rules] \
        == [(30080, "10.9.128.5", 80)]


def test_a_load_balancer_publishes_its_port_only_when_it_holds_it() -> None:
    info = _info("lb", "LoadBalancer", (ServicePort("", "TCP", 8080, 30001),))
    snap = Snapshot(services=(info,))
    objects = _objects(lb={"type": "LoadBalancer"})
    owned = desired_forwarders(snap, objects, {"default/lb"}, "127.0.0.1")["default/lb"]
    pending = desired_forwarders(snap, objects, set(), "127.0.0.1")["default/lb"]
    assert {p.host_port for p in owned.publish} == {30001, 8080}
    assert {p.host_port for p in pending.publish} == {30001}  # pending: NodePort only


def test_cluster_ip_services_and_headless_ones_want_no_forwarder() -> None:
    snap = Snapshot(services=(_info("c", "ClusterIP", (ServicePort("", "TCP", 80),)),
                              _info("h", "NodePort", (ServicePort("", "TCP", 80, 30002),),
                                    ip=None)))
    assert desired_forwarders(snap, _objects(c={}, h={"type": "NodePort"}), set(),
                              "127.0.0.1") == {}


def test_a_local_external_ip_is_published_on_that_address() -> None:
    snap = Snapshot(services=(_info("x", "ClusterIP", (ServicePort("", "TCP", 80),)),))
    wanted = desired_forwarders(snap, _objects(x={"externalIPs": ["127.0.0.2", "192.0.2.9"]}),
                                set(), "127.0.0.1")
    assert [(p.host_ip, p.host_port) for p in wanted["default/x"].publish] == [("127.0.0.2", 80)]


def test_changed_services_names_added_removed_and_changed_forwarders_only() -> None:
    def wanted(*ports: int) -> dict[str, Any]:
        services = tuple(_info(f"s{p}", "NodePort", (ServicePort("", "TCP", 80, p),))
                         for p in ports)
        objects = {f"default/s{p}": {"spec": {"type": "NodePort"}} for p in ports}
        return desired_forwarders(Snapshot(services=services), objects, set(), "127.0.0.1")

    before = wanted(30001, 30002, 30003)
    after = {**wanted(30001, 30004), "default/s30002": wanted(30005)["default/s30005"]}
    assert changed_services(before, after) == {"default/s30002", "default/s30003",
                                               "default/s30004"}
    assert changed_services(before, before) == set()
    assert changed_services(None, before) is None
