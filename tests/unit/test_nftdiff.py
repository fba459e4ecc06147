"""Golden tests of the partial nftables syncs (nftdiff.py); UPDATE_GOLDEN=1 rewrites the files
under golden/ (diff-*.nft: the transaction that turns the first snapshot's table into the
second's). A small table simulator checks that each transaction, applied to the full render of
the old snapshot, gives exactly the full render of the new one, with nftables' own rules about
what may be deleted and added; tests/net/test_nft_partial.py replays them with the real `nft`."""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
from localsvc.net.nftables import checked_port_rules, cluster_ips, render_ruleset, ruleset_model
from localsvc.net.nftdiff import RulesetCompiler, partial_transaction

GOLDEN = Path(__file__).parent / "golden"


def unnamed(ip: str, port: int = 8080, ready: bool = True) -> Endpoint:
    return Endpoint(ip=ip, ready=ready, ports={"": port})


def web(*ips: str, port: int = 80, target: int = 8080, node_port: int | None = None,
        affinity: int | None = None, name: str = "web", cluster_ip: str = "10.96.128.20",
        kind: str = "ClusterIP") -> ServiceInfo:
    return ServiceInfo("default", name, kind, cluster_ip,
                       (ServicePort("", "TCP", port, node_port=node_port),),
                       tuple(unnamed(ip, target) for ip in ips), affinity_timeout=affinity)


DB = ServiceInfo("default", "db", "ClusterIP", "10.96.128.30",
                 (ServicePort("pg", "TCP", 5432), ServicePort("metrics", "UDP", 9187)),
                 (Endpoint("10.96.0.40", True, {"pg": 5432, "metrics": 9187}),))


def snap(*services: ServiceInfo) -> Snapshot:
    return Snapshot(services=(DB, *services), dns_ip="10.96.128.10", node_ip="10.96.0.2")


CASES: dict[str, tuple[Snapshot, Snapshot]] = {
    "endpoint-added": (snap(web("10.96.0.5", "10.96.0.6")),
                       snap(web("10.96.0.5", "10.96.0.6", "10.96.0.7"))),
    "endpoint-removed": (snap(web("10.96.0.5", "10.96.0.6", "10.96.0.7")),
                         snap(web("10.96.0.5", "10.96.0.7"))),
    "service-added": (snap(), snap(web("10.96.0.5"))),
    "service-removed": (snap(web("10.96.0.5")), snap()),
    "port-changed": (snap(web("10.96.0.5")), snap(web("10.96.0.5", port=8000))),
    "target-port-changed": (snap(web("10.96.0.5")), snap(web("10.96.0.5", target=9090))),
    "affinity-endpoint-added": (snap(web("10.96.0.5", affinity=600)),
                                snap(web("10.96.0.5", "10.96.0.6", affinity=600))),
    "affinity-turned-off": (snap(web("10.96.0.5", affinity=600)), snap(web("10.96.0.5"))),
    "node-port-added": (snap(web("10.96.0.5", kind="NodePort")),
                        snap(web("10.96.0.5", kind="NodePort", node_port=30080))),
    "to-zero-endpoints": (snap(web("10.96.0.5", node_port=30080, kind="NodePort")),
                          snap(web(node_port=30080, kind="NodePort"))),
    "back-from-zero": (snap(web(node_port=30080, kind="NodePort")),
                       snap(web("10.96.0.5", node_port=30080, kind="NodePort"))),
    "endpoint-not-ready": (snap(web("10.96.0.5", "10.96.0.6")),
                           snap(replace(web("10.96.0.5"), endpoints=(
                               unnamed("10.96.0.5"), unnamed("10.96.0.6", ready=False))))),
    "cluster-ip-reused": (snap(web("10.96.0.5")),
                          snap(web("10.96.0.6", name="api"))),
}


def transaction_text(old: Snapshot, new: Snapshot, delete_chains: tuple[str, ...] = ()) -> str:
    tx = partial_transaction(ruleset_model(old), ruleset_model(new), "localsvc", delete_chains)
    assert tx is not None
    return tx.text


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    text = transaction_text(*CASES[name])
    path = GOLDEN / f"diff-{name}.nft"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; rerun with UPDATE_GOLDEN=1 and review"


@pytest.mark.parametrize("name", sorted(CASES))
def test_transaction_turns_old_table_into_new(name: str) -> None:
    old, new = CASES[name]
    table = Table.parse(render_ruleset(old))
    table.run(transaction_text(old, new))
    table.drop_empty_chains()
    assert table == Table.parse(render_ruleset(new))


def test_nothing_changed_is_an_empty_transaction() -> None:
    old, _ = CASES["endpoint-added"]
    tx = partial_transaction(ruleset_model(old), ruleset_model(old))
    assert tx is not None and tx.text == "" and not (tx.flushed | tx.added | tx.deleted)


def test_changed_ports_are_counted() -> None:
    for name, ports in (("endpoint-added", 1), ("service-removed", 1), ("cluster-ip-reused", 2),
                        ("port-changed", 2)):
        tx = partial_transaction(ruleset_model(CASES[name][0]), ruleset_model(CASES[name][1]))
        assert tx is not None and tx.ports == ports, name


def test_only_the_changed_service_is_written() -> None:
    old, new = CASES["endpoint-added"]
    text = transaction_text(old, new)
    assert "default/db/" not in text and "10.96.128.30" not in text
    assert "delete chain" not in text and "delete table" not in text


def test_endpoint_change_is_elements_only() -> None:
    api = web("10.96.0.8", "10.96.0.9", name="api", cluster_ip="10.96.128.21")
    # db keeps spread-1 and api spread-2 in use: web's move between them needs no chain
    text = transaction_text(snap(api, web("10.96.0.5", "10.96.0.6")), snap(api, web("10.96.0.6")))
    assert text == (
        "delete element ip localsvc spreads { 10.96.128.20 . tcp . 80 }\n"
        "delete element ip localsvc endpoints { 10.96.128.20 . tcp . 80 . 0 }\n"
        "delete element ip localsvc endpoints { 10.96.128.20 . tcp . 80 . 1 }\n"
        "add element ip localsvc spreads { 10.96.128.20 . tcp . 80 : goto spread-1 }\n"
        "add element ip localsvc endpoints { 10.96.128.20 . tcp . 80 . 0 : 10.96.0.6 . 8080 }\n")
    # the services element (and a counter on it) stays


def test_emptied_chains_are_flushed_now_and_deleted_later() -> None:
    old, new = CASES["endpoint-removed"]
    old, new = (replace(s, services=(s.services[0], replace(s.services[1], affinity_timeout=60)))
                for s in (old, new))
    tx = partial_transaction(ruleset_model(old), ruleset_model(new))
    assert tx is not None
    (gone,) = tx.flushed
    assert gone.startswith("ep-") and gone.endswith("__10.96.0.6/8080")
    assert f"flush chain ip localsvc {gone}\n" in tx.text and "delete chain" not in tx.text
    # The next sync deletes it; one that needs it again fills it instead of deleting it.
    later = partial_transaction(ruleset_model(new), ruleset_model(new), delete_chains=[gone])
    assert later is not None and later.text == f"delete chain ip localsvc {gone}\n"
    back = partial_transaction(ruleset_model(new), ruleset_model(old), delete_chains=[gone])
    assert back is not None and gone in back.added and not back.deleted
    assert "delete chain" not in back.text and f"add chain ip localsvc {gone}\n" in back.text


def test_unused_spread_chain_is_flushed_and_a_new_one_added() -> None:
    old, new = CASES["endpoint-added"]  # web goes from 2 to 3 endpoints; db has 1
    tx = partial_transaction(ruleset_model(old), ruleset_model(new))
    assert tx is not None and tx.flushed == {"spread-2"} and tx.added == {"spread-3"}
    assert tx.text.index("add chain ip localsvc spread-3") < tx.text.index("goto spread-3")
    assert "services" not in tx.text
    assert tx.text.index("goto spread-3") < tx.text.index("flush chain ip localsvc spread-2")
    still = partial_transaction(ruleset_model(new), ruleset_model(snap(web("10.96.0.5"))))
    assert still is not None and "chain ip localsvc spread-1" not in still.text  # db uses it


def test_affinity_timeout_change_needs_the_full_render() -> None:
    old = ruleset_model(snap(web("10.96.0.5", affinity=600)))
    assert partial_transaction(old, ruleset_model(snap(web("10.96.0.5", affinity=60)))) is None


def test_affinity_sets_of_kept_endpoints_stay() -> None:
    old, new = CASES["affinity-endpoint-added"]
    text = transaction_text(old, new)
    assert text.count("add set ") == 1 and "__10.96.0.6/8080 {" in text
    assert "delete set" not in text


# ---- the compiler: the same model as ruleset_model, derived again only where it changed -------

def test_compiler_gives_the_full_model_and_problems() -> None:
    bad = ServiceInfo("default", "bad", "ClusterIP", "fd00::1", (ServicePort("", "TCP", 80),))
    snapshot = replace(snap(web("10.96.0.5")), services=(*snap(web("10.96.0.5")).services, bad))
    compiled = RulesetCompiler().compile(snapshot)
    assert (compiled.rules, compiled.problems) == checked_port_rules(snapshot)
    assert compiled.model == ruleset_model(snapshot, compiled.rules)
    assert compiled.addresses == cluster_ips(snapshot)


def test_compiler_reuses_unchanged_services() -> None:
    compiler = RulesetCompiler()
    old, new = CASES["endpoint-added"]
    first = compiler.compile(old).model
    second = compiler.compile(new).model
    assert second == ruleset_model(new)
    db = "default/db/tcp/pg"
    assert second.ports[db] is first.ports[db]  # not derived again
    assert second.ports["default/web/tcp/80"] is not first.ports["default/web/tcp/80"]


def test_compiler_follows_the_node_address() -> None:
    compiler = RulesetCompiler()
    with_port = snap(web("10.96.0.5", kind="NodePort", node_port=30080))
    compiler.compile(with_port)
    moved = replace(with_port, node_ip="10.96.0.3")
    assert compiler.compile(moved).model == ruleset_model(moved)


# ---- random walks: every partial transaction keeps the table equal to the full render ---------

def random_snapshot(rng: random.Random) -> Snapshot:
    services = []
    for i in range(rng.randint(0, 5)):
        ips = rng.sample([f"10.96.0.{n}" for n in range(5, 12)], rng.randint(0, 3))
        services.append(web(*ips, name=f"s{i}", cluster_ip=f"10.96.128.{40 + rng.randint(0, 6)}",
                            port=rng.choice([80, 81]), target=rng.choice([8080, 9090]),
                            node_port=rng.choice([None, 30000 + i]),
                            affinity=rng.choice([None, 600, 600, 60]), kind="NodePort"))
    ips = [s.cluster_ip for s in services]
    if len(ips) != len(set(ips)):  # the allocator never hands one ClusterIP out twice
        services = services[:1]
    return snap(*services)


@pytest.mark.parametrize("seed", range(20))
def test_random_walk_matches_the_full_render(seed: int) -> None:
    rng = random.Random(seed)
    current = random_snapshot(rng)
    table = Table.parse(render_ruleset(current))
    stale: set[str] = set()
    for _ in range(15):
        new = random_snapshot(rng)
        due = sorted(stale) if rng.random() < 0.5 else []
        tx = partial_transaction(ruleset_model(current), ruleset_model(new), "localsvc", due)
        if tx is None:  # an affinity timeout changed: the full render takes over
            table, stale = Table.parse(render_ruleset(new)), set()
        else:
            table.run(tx.text)
            stale = (stale - tx.added - tx.deleted) | tx.flushed
            assert {c for c, rules in table.chains.items() if not rules} >= stale
        current = new
        assert table.without_empty(stale) == Table.parse(render_ruleset(new))


# ---- a small model of an nftables table, enforcing what the kernel enforces -------------------

REF = re.compile(r"\b(?:goto|jump) ([^\s,}]+)")
SET_REF = re.compile(r"@(\S+)")


@dataclass
class Table:
    chains: dict[str, list[str]] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)  # affinity sets: name -> declaration
    elements: dict[str, dict[str, str]] = field(default_factory=dict)  # map/set -> key -> rest

    @classmethod
    def parse(cls, text: str) -> Table:
        """The table of a full render (only the parts partial syncs change)."""
        table = cls()
        body = text.split("table ip localsvc {\n", 1)[1]
        for block in re.finditer(r"\t(chain|set|map) (\S+) \{\n(.*?)\n\t\}", body, re.S):
            kind, name, inside = block.groups()
            lines = [line.strip() for line in inside.splitlines()]
            if kind == "chain" and name.startswith(("svc-", "ep-", "spread-")):  # not base chains
                table.chains[name] = lines
            elif name.startswith("aff-"):
                table.sets[name] = _declaration(inside)
            elif kind in ("map", "set"):
                found = re.search(r"elements = \{\n(.*?)\n\s*\}", inside, re.S)
                items = [i.strip().rstrip(",") for i in found.group(1).splitlines()] if found \
                    else []
                table.elements[name] = dict(_split(i) for i in items)
        return table

    def referenced(self) -> set[str]:
        refs = {m for rules in self.chains.values() for r in rules for m in REF.findall(r)}
        refs |= {m for items in self.elements.values() for rest in items.values()
                 for m in REF.findall(rest)}
        return refs

    def run(self, text: str) -> None:
        for line in text.splitlines():
            self.command(line)

    def command(self, line: str) -> None:
        verb, what, family, table, rest = line.split(" ", 4)
        assert (family, table) == ("ip", "localsvc"), line
        name, _, tail = rest.partition(" ")
        if (verb, what) == ("add", "chain"):
            self.chains.setdefault(name, [])
        elif (verb, what) == ("flush", "chain"):
            assert name in self.chains, line
            self.chains[name] = []
        elif (verb, what) == ("delete", "chain"):
            assert self.chains.get(name) == [], f"{line}: not empty"
            assert name not in self.referenced(), f"{line}: still referenced"
            del self.chains[name]
        elif (verb, what) == ("add", "rule"):
            assert name in self.chains, line
            for ref in REF.findall(tail):
                assert ref in self.chains or ref == "reject-service" \
                    or ref == "mark-for-masquerade", f"{line}: no chain {ref}"
            for ref in SET_REF.findall(tail):
                assert ref in self.sets or ref == "endpoints", f"{line}: no set {ref}"
            self.chains[name].append(tail)
        elif (verb, what) == ("add", "set"):
            assert name not in self.sets, line
            self.sets[name] = _declaration(tail)
        elif (verb, what) == ("delete", "set"):
            assert name in self.sets, line
            assert not any(f"@{name} " in r for rules in self.chains.values() for r in rules), line
            del self.sets[name]
        elif what == "element":
            items = self.elements.setdefault(name, {})
            inside = tail.strip()[1:-1].strip()
            parts = [_split(p) for p in inside.split(", ")] if name == "cluster-ips" \
                else [_split(inside)]
            for key, value in parts:
                if verb == "delete":
                    assert key in items, f"{line}: no element {key}"
                    del items[key]
                else:
                    assert items.get(key, value) == value, f"{line}: {key} holds another verdict"
                    for ref in REF.findall(value):
                        assert ref in self.chains or ref in ("reject-service", "spread"), line
                    items[key] = value
        else:
            raise AssertionError(f"unexpected command {line!r}")

    def drop_empty_chains(self) -> None:
        self.chains = {name: rules for name, rules in self.chains.items() if rules}

    def without_empty(self, names: set[str]) -> Table:
        chains = {n: r for n, r in self.chains.items() if r or n not in names}
        return Table(chains, dict(self.sets), {k: dict(v) for k, v in self.elements.items()})


def _declaration(text: str) -> str:
    """A set's declaration, the same in a table block and in an `add set` command."""
    return " ".join(re.sub(r"[{};]", " ", text).split())


def _split(item: str) -> tuple[str, str]:
    """`key comment "..." : verdict` -> (key, the rest); a plain set member is its own key."""
    found = re.match(r"(\S+ \. \S+ \. \S+(?: \. \d+)?)(.*)$", item)
    return (found.group(1), found.group(2)) if found else (item, "")
