"""New connections per Service port (net/connections.py, proxy counting, the nftables counter):
the `services` map's counter in both renders, `nft -j` counter output to the ConnectionCounts
body, totals that never go down when a kernel counter starts again."""

from __future__ import annotations

import asyncio
import json

from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
from localsvc.net.connections import Totals, connection_counts, parse_map_counters
from localsvc.net.dataplane import UserspaceDataplane
from localsvc.net.nftables import port_rules, ruleset_model
from localsvc.net.nftdiff import partial_transaction
from localsvc.net.nftmodel import ruleset_text
from localsvc.node.connections import ConnectionFeed
from localsvc.node.network import NetworkSync


def snapshot(*endpoints: str, node_port: int | None = 30080) -> Snapshot:
    return Snapshot(node_ip="172.30.0.2", services=(
        ServiceInfo("default", "web", "NodePort", "10.96.0.20",
                    (ServicePort("http", "TCP", 80, node_port=node_port),
                     ServicePort("dns", "UDP", 53)),
                    tuple(Endpoint(ip, True, {"http": 8080, "dns": 53}) for ip in endpoints)),
        ServiceInfo("apps", "idle", "ClusterIP", "10.96.0.30", (ServicePort("", "TCP", 443),),
                    ()),
    ))


def section(text: str, head: str) -> str:
    start = text.index(head)
    return text[start:text.index("\t}\n", start)]


def test_full_render_counts_on_the_services_map_only() -> None:
    text = ruleset_text(ruleset_model(snapshot("10.0.0.5")), "localsvc")
    assert "\t\tcounter\n" in section(text, "\tmap services {")
    assert "counter" not in section(text, "\tmap no-endpoint-services {")
    # Nowhere else: a chain rewritten by a partial sync would lose its count.
    assert text.count("counter") == 1


def test_endpoint_change_leaves_the_counted_elements_alone() -> None:
    """A partial sync for a new endpoint changes the endpoints (and spreads) maps, never the
    services map's elements whose counters hold the counts."""
    one, two = ruleset_model(snapshot("10.0.0.5")), ruleset_model(snapshot("10.0.0.5", "10.0.0.6"))
    tx = partial_transaction(one, two)
    assert tx is not None and "add element ip localsvc endpoints" in tx.text
    assert "element ip localsvc services" not in tx.text


# `nft -j list map ip localsvc services` as nft 1.0.6 prints it (elements with a comment, a
# counter and the verdict), with a foreign element (no comment) that is not ours.
NFT_JSON = json.dumps({"nftables": [
    {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
    {"map": {"family": "ip", "name": "services", "table": "localsvc", "map": "verdict",
             "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 3,
             "stmt": [{"counter": None}],
             "elem": [
                 [{"elem": {"val": {"concat": ["10.96.0.20", 6, 80]},
                            "comment": "default/web/tcp/http",
                            "counter": {"packets": 7, "bytes": 420}}},
                  {"goto": {"target": "svc-1-default/web/tcp/http"}}],
                 [{"elem": {"val": {"concat": ["172.30.0.2", 6, 30080]},
                            "comment": "default/web/tcp/http nodePort",
                            "counter": {"packets": 3, "bytes": 180}}},
                  {"goto": {"target": "svc-1-default/web/tcp/http"}}],
                 [{"elem": {"val": {"concat": ["10.96.0.20", 17, 53]},
                            "comment": "default/web/udp/dns",
                            "counter": {"packets": 2, "bytes": 90}}},
                  {"goto": {"target": "svc-2-default/web/udp/dns"}}],
                 [{"elem": {"val": {"concat": ["10.96.0.99", 6, 1]},
                            "counter": {"packets": 5, "bytes": 1}}},
                  {"goto": {"target": "elsewhere"}}],
             ]}},
]})


def test_parse_adds_cluster_ip_and_node_port_elements() -> None:
    assert parse_map_counters(NFT_JSON) == {"default/web/tcp/http": 10, "default/web/udp/dns": 2}


def test_parse_of_an_empty_map() -> None:
    empty = {"nftables": [{"map": {"name": "services", "table": "localsvc", "map": "verdict"}}]}
    assert parse_map_counters(json.dumps(empty)) == {}


def test_body_lists_every_proxied_port_with_its_total() -> None:
    rules = port_rules(snapshot("10.0.0.5"))
    body = connection_counts(rules, parse_map_counters(NFT_JSON), 1700000000.5, "nftables")
    assert body == {"kind": "ConnectionCounts", "time": 1700000000.5, "counting": "nftables",
                    "services": [
                        {"namespace": "apps", "name": "idle", "port": 443, "protocol": "TCP",
                         "connections": 0},
                        {"namespace": "default", "name": "web", "port": 80, "protocol": "TCP",
                         "connections": 10},
                        {"namespace": "default", "name": "web", "port": 53, "protocol": "UDP",
                         "connections": 2}]}


def test_body_when_nothing_counts() -> None:
    body = connection_counts(port_rules(snapshot()), {}, 5.0, None)
    assert body["counting"] is None and {s["connections"] for s in body["services"]} == {0}


def test_totals_never_go_down_when_a_counter_starts_again() -> None:
    totals = Totals()
    assert totals.observe({"a": 5, "b": 1}) == {"a": 5, "b": 1}
    assert totals.observe({"a": 8, "b": 1}) == {"a": 8, "b": 1}
    assert totals.observe({"a": 2, "b": 4}) == {"a": 10, "b": 4}  # a's table was rendered anew
    assert totals.observe({"b": 4}) == {"a": 10, "b": 4}  # a lost its element (no endpoint)
    assert totals.observe({"a": 1, "b": 6}) == {"a": 11, "b": 6}  # ... and has it again


def test_totals_start_at_the_first_reading() -> None:
    assert Totals().observe({}) == {}
    assert Totals().observe({"a": 0}) == {"a": 0}


def test_node_feed_reads_the_userspace_proxy_counts() -> None:
    """node/connections.ConnectionFeed over a userspace dataplane (nothing programmed: its
    counts are the proxy's own books): every proxied port of the latest snapshot, fresh
    readings on demand, the last one shared within `max_age`."""
    async def main() -> None:
        dataplane = UserspaceDataplane("eth0", "10.96.0.0/16")
        network = NetworkSync(dataplane, None)
        feed = ConnectionFeed(network)
        assert (await feed.body())["services"] == []  # no snapshot yet
        network.update(snapshot("10.0.0.5"))
        dataplane.proxy.accepted["default/web/tcp/http"] += 3
        body = await feed.body()
        assert body["counting"] == "userspace"
        assert [(s["name"], s["port"], s["connections"]) for s in body["services"]] == [
            ("idle", 443, 0), ("web", 80, 3), ("web", 53, 0)]
        dataplane.proxy.accepted["default/web/tcp/http"] += 1
        assert await feed.body(max_age=60) is body  # shared within max_age
        assert (await feed.body())["services"][1]["connections"] == 4

    asyncio.run(main())
