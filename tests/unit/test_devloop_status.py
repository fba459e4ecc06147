"""The status `localsvc up` shows (devloop/status.py): the Services table and the node's
problems. Pure: objects in, text out."""

from __future__ import annotations

from typing import Any

from localsvc.host.devloop.status import problems_text, status_rows
from localsvc.runtime.environment import state_volume_name

HEADER = ["NAMESPACE", "SERVICE", "TYPE", "CLUSTER-IP", "HOST URL", "READY"]


def svc(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def endpoints(name: str, ready: int, not_ready: int = 0, namespace: str = "default",
              subsets: int = 1) -> dict[str, Any]:
    subset = {"addresses": [{"ip": f"10.0.0.{i}"} for i in range(ready)],
              "notReadyAddresses": [{"ip": f"10.0.1.{i}"} for i in range(not_ready)]}
    return {"metadata": {"name": name, "namespace": namespace}, "subsets": [subset] * subsets}


def test_an_empty_environment_has_only_the_header() -> None:
    assert status_rows([], [], "127.0.0.1") == [HEADER]


def test_cluster_ip_service_counts_ready_of_all_addresses_over_subsets() -> None:
    rows = status_rows([svc("db", clusterIP="10.96.0.10", ports=[{"port": 5432}])],
                       [endpoints("db", ready=2, not_ready=1, subsets=2)], "127.0.0.1")
    assert rows[1] == ["default", "db", "ClusterIP", "10.96.0.10", "-", "4/6"]


def test_endpoints_are_matched_by_namespace_and_name() -> None:
    rows = status_rows([svc("web", "shop", clusterIP="10.96.0.11")],
                       [endpoints("web", ready=3, namespace="other")], "127.0.0.1")
    assert rows[1][-1] == "0/0"


def test_nodeport_shows_the_host_url_on_loopback_for_a_wildcard_host_address() -> None:
    service = svc("web", type="NodePort", clusterIP="10.96.0.12",
                  ports=[{"port": 80, "nodePort": 30080}])
    assert status_rows([service], [], "0.0.0.0")[1][4] == "http://127.0.0.1:30080"
    assert status_rows([service], [], "127.0.0.2")[1][4] == "http://127.0.0.2:30080"


def test_loadbalancer_is_pending_until_it_has_an_ingress() -> None:
    service = svc("lb", type="LoadBalancer", clusterIP="10.96.0.13", ports=[{"port": 8080}])
    assert status_rows([service], [], "127.0.0.1")[1][4] == "<pending>"
    service["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.5"}]}}
    assert status_rows([service], [], "127.0.0.1")[1][4] == "http://127.0.0.5:8080"


def test_headless_and_externalname_services() -> None:
    rows = status_rows([svc("peers", clusterIP="None"), svc("mail", type="ExternalName",
                                                           externalName="smtp.example.com")],
                       [], "127.0.0.1")
    assert rows[1] == ["default", "peers", "ClusterIP", "None", "-", "0/0"]
    assert rows[2] == ["default", "mail", "ExternalName", "smtp.example.com", "-", "-"]


def test_no_problems_is_no_text() -> None:
    assert problems_text({}) == ""
    assert problems_text({"problems": [], "stateError": None}) == ""


def test_the_quarantined_state_comes_first_with_its_volume_then_each_problem() -> None:
    text = problems_text({
        "env": "shop",
        "stateError": "the state file was unreadable and was set aside",
        "problems": [{"object": "Service/default/web", "message": "bad port"},
                     {"object": "Endpoints/default/db", "message": "bad address"}],
    })
    assert text.splitlines() == [
        f"error: the state file was unreadable and was set aside (volume {state_volume_name('shop')})",
        "2 problem(s) with stored objects; these parts are skipped and everything else is served:",
        "  Service/default/web: bad port",
        "  Endpoints/default/db: bad address",
    ]


def test_the_ingress_controller_on_fallback_ports_is_said() -> None:
    assert problems_text({"ingress": {"wantedPorts": [80, 443], "ports": [80, 443]}}) == ""
    text = problems_text({"ingress": {"wantedPorts": [80, 443], "ports": [32001, 32002],
                                      "note": "127.0.0.1:80 and 127.0.0.1:443 not available: "
                                              "another program listens on it"}})
    assert text == ("ingress controller: serving HTTP on port 32001 and HTTPS on port 32002 "
                    "(127.0.0.1:80 and 127.0.0.1:443 not available: another program listens "
                    "on it)")
