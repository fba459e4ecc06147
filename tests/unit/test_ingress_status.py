"""An Ingress's status.loadBalancer, its URLs for `localsvc url`, its kubectl Table row, the
ingress ports setting, the fallback wording and the certificate pair check."""

from __future__ import annotations

import pytest

from localsvc.host.ingressurl import fallback_note, resolve_hints
from localsvc.model.ingressroutes import tls_hosts
from localsvc.model.ingressstatus import (
    host_matches,
    ingress_urls,
    load_balancer_status,
    needs_resolve,
    served_ports,
)
from localsvc.model.kubeapi.ingresstable import format_hosts, ingress_class_row, ingress_row
from localsvc.model.kubeapi.tables import table
from localsvc.model.nodeconfig import NodeConfig, ingress_ports_setting
from localsvc.node.ingressctl import port_reason
from localsvc.node.ingresscerts import default_certificate_pem, pair_problem
from tests.unit.ingress_builders import ingress, path, rule


def test_status_lists_ports_only_when_not_80_and_443() -> None:
    assert load_balancer_status("127.0.0.1", 80, 443) == {
        "loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}
    assert load_balancer_status("0.0.0.0", 8080, 443) == {"loadBalancer": {"ingress": [{
        "ip": "127.0.0.1", "ports": [{"port": 8080, "protocol": "TCP"},
                                     {"port": 443, "protocol": "TCP"}]}]}}


def with_status(obj: dict, http: int = 80, https: int = 443) -> dict:
    return {**obj, "status": load_balancer_status("127.0.0.1", http, https)}


def test_urls_per_host_and_path_https_where_tls_covers_the_host() -> None:
    ing = ingress("shop", [rule("shop.localhost", path("/"), path("/api")),
                           rule("a.apps.localhost", path("/")), rule("plain.localhost")],
                  tls=[{"hosts": ["shop.localhost", "*.apps.localhost"], "secretName": "t"}])
    assert ingress_urls(with_status(ing)) == [
        "https://shop.localhost/", "https://shop.localhost/api", "https://a.apps.localhost/",
        "http://plain.localhost/"]
    assert ingress_urls(with_status(ing, 18080, 18443))[:2] == [
        "https://shop.localhost:18443/", "https://shop.localhost:18443/api"]
    assert ingress_urls(ing) == []  # no status: not served (yet)
    default_only = with_status(ingress("d", [], defaultBackend={}), 32000, 32001)
    assert ingress_urls(default_only) == ["http://127.0.0.1:32000/"]
    assert served_ports(default_only) == ("127.0.0.1", 32000, 32001)


def test_a_tls_entry_without_hosts_secures_the_rule_hosts_as_the_certificates_do() -> None:
    """Regression: `url` printed http for a tls entry naming no hosts, while the controller
    serves the rule hosts over https with the entry's Secret (README, ingressroutes)."""
    ing = ingress("shop", [rule("shop.localhost", path("/")), rule("api.localhost")],
                  tls=[{"secretName": "t"}])
    assert ingress_urls(with_status(ing)) == ["https://shop.localhost/", "https://api.localhost/"]
    assert [hosts for _, hosts in tls_hosts(ing)] == [["api.localhost", "shop.localhost"]]


def test_host_matching_and_resolving() -> None:
    assert host_matches("*.a.localhost", "x.a.localhost")
    assert not host_matches("*.a.localhost", "a.localhost")
    assert not host_matches("*.a.localhost", "y.x.a.localhost")
    assert not needs_resolve("shop.localhost") and not needs_resolve("127.0.0.1")
    assert needs_resolve("shop.example.com")
    assert resolve_hints(["http://shop.example.com:8080/x", "http://a.localhost/"]) == [
        "shop.example.com does not resolve to this machine by itself: curl --resolve "
        "shop.example.com:8080:127.0.0.1 http://shop.example.com:8080/x (or add it to "
        "/etc/hosts)"]


def test_table_rows_as_kubectl_prints_them() -> None:
    ing = with_status(ingress("shop", [rule("a.localhost", path("/")), rule("", path("/"))],
                              tls=[{"secretName": "t"}]))
    ing["spec"]["ingressClassName"] = "localsvc"
    cells, _ = ingress_row(ing, 0.0)
    assert cells[:5] == ["shop", "localsvc", "a.localhost", "127.0.0.1", "80, 443"]
    bare = ingress("bare", [rule("", path("/"))])
    assert ingress_row(bare, 0.0)[0][1:5] == ["<none>", "*", "", "80"]
    rules = [{"host": h} for h in ("", "a", "b", "c", "d")]
    assert format_hosts(rules) == "a,b,c + 2 more..."
    assert format_hosts([{"host": "a"}, {"host": "b"}, {"host": "c"}]) == "a,b,c"
    cls = {"metadata": {"name": "c"}, "spec": {"controller": "x.io/y", "parameters": {
        "apiGroup": "k8s.example.com", "kind": "P", "name": "n"}}}
    assert ingress_class_row(cls, 0.0)[0][:3] == ["c", "x.io/y", "P.k8s.example.com/n"]
    columns = [c["name"] for c in table("Ingress", [ing], 0.0)["columnDefinitions"]]
    assert columns == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    columns = [c["name"] for c in table("IngressClass", [cls], 0.0)["columnDefinitions"]]
    assert columns == ["Name", "Controller", "Parameters", "Age"]


def test_ingress_ports_setting() -> None:
    assert ingress_ports_setting({}) == (80, 443)
    env = {"LOCALSVC_INGRESS_HTTP_PORT": "8080", "LOCALSVC_INGRESS_HTTPS_PORT": "0"}
    assert ingress_ports_setting(env) == (8080, 0)
    assert ingress_ports_setting(env, (9000, None)) == (9000, 0)
    with pytest.raises(ValueError, match="--ingress-https-port must be a port number"):
        ingress_ports_setting({}, (None, 70000))
    with pytest.raises(ValueError, match="LOCALSVC_INGRESS_HTTP_PORT must be a port number"):
        ingress_ports_setting({"LOCALSVC_INGRESS_HTTP_PORT": "http"})
    config = NodeConfig("e", "n", "10.0.0.0/16", "10.0.0.2", "i", "t", __import__(
        "pathlib").Path("/s"), "cluster.local", ingress_ports=(18080, 0))
    assert NodeConfig.from_env(config.to_env()).ingress_ports == (18080, 0)
    del_var = {k: v for k, v in config.to_env().items() if k != "LOCALSVC_INGRESS_PORTS"}
    assert NodeConfig.from_env(del_var).ingress_ports == (80, 443)  # a node from before


def test_fallback_note() -> None:
    assert fallback_note({"wantedPorts": [80, 443], "ports": [80, 443]}) is None
    assert fallback_note({"wantedPorts": [0, 0], "ports": [32001, 32002]}) is None
    note = fallback_note({"wantedPorts": [80, 443], "ports": [32001, 443],
                          "note": "127.0.0.1:80 not available: another program listens on it"})
    assert note == ("ingress controller: serving HTTP on port 32001 and HTTPS on port 443 "
                    "(127.0.0.1:80 not available: another program listens on it)")
    assert fallback_note({"error": "HAProxy refused"}) == "ingress controller: HAProxy refused"
    assert port_reason("Bind for 127.0.0.1:80 failed: port is already allocated") == \
        "another container (another environment?) publishes it"
    assert port_reason("listen tcp4 127.0.0.1:80: bind: address already in use") == \
        "another program listens on it"
    assert "rootless" in port_reason("cannot expose privileged port 80")


def test_certificate_pairs() -> None:
    pem = default_certificate_pem()
    crt, key = pem.split(b"-----BEGIN PRIVATE KEY-----")
    key = b"-----BEGIN PRIVATE KEY-----" + key
    assert pair_problem(crt, key) is None
    other = default_certificate_pem()
    other_key = b"-----BEGIN PRIVATE KEY-----" + other.split(b"-----BEGIN PRIVATE KEY-----")[1]
    assert pair_problem(crt, other_key) == "tls.key is not the private key of tls.crt"
    assert str(pair_problem(b"junk", key)).startswith("tls.crt is not a PEM certificate")
    assert str(pair_problem(crt, b"junk")).startswith("tls.key is not an unencrypted PEM")


def test_a_bad_ingress_port_setting_fails_only_where_a_node_is_created(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: Environment() checked LOCALSVC_INGRESS_HTTP_PORT, so a bad value broke every
    command (ls, get, down); it is now checked when a node is created."""
    from localsvc.errors import LocalsvcError
    from localsvc.host.api import Environment

    monkeypatch.setenv("LOCALSVC_INGRESS_HTTP_PORT", "http")
    env = Environment("portcheck")
    with pytest.raises(LocalsvcError, match="LOCALSVC_INGRESS_HTTP_PORT must be a port number"):
        env.ingress_host_ports()
    assert Environment("portcheck", ingress_ports=(8080, None)).ingress_host_ports() == (8080, 443)


def test_up_waits_for_the_controller_only_when_it_serves_an_ingress() -> None:
    """Regression: `up` waited 8 s for a controller that never starts (only Ingresses of
    another class): up_notice asks serves_any first."""
    from localsvc.host.ingressurl import serves_any
    from localsvc.model.ingressclass import ingress_classes

    other = {"metadata": {"name": "other"}, "spec": {"controller": "example.com/other"}}
    classes = ingress_classes([other], "2026-01-01T00:00:00Z")
    elsewhere = ingress("elsewhere", [rule("e.localhost")], ingressClassName="other")
    assert not serves_any([elsewhere], classes)
    assert serves_any([elsewhere, ingress("shop", [rule("shop.localhost")])], classes)
    assert serves_any([ingress("x", [], ingressClassName="localsvc")], classes)
