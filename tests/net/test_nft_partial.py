"""Partial nftables syncs against the real `nft` and kernel, in a container of the bookworm base
image (the node's nft version): every transaction of tests/unit/test_nftdiff.py's golden cases
and random walks is accepted, and leaves exactly the table a full render of the new snapshot
makes (compared as `nft -j` output, empty chains waiting for deletion aside). The traffic that
follows partial syncs is tested in tests/net/test_proxy.py (test_dataplane_in_containers)."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from localsvc.model.snapshot import Snapshot
from localsvc.net.nftables import ruleset_model
from localsvc.net.nftdiff import partial_transaction
from localsvc.net.nftmodel import ruleset_text
from tests.unit.test_nftdiff import CASES, random_snapshot

BASE_IMAGE = "localsvc/debian-python:bookworm-f2a1e29fa650"

# Runs in the container. Per step: the partial transaction on table `localsvc` (which holds the
# previous step's table), the full render of the new snapshot on table `check`, then both
# tables as nft -j sees them, normalized (no handles, elements sorted, listed empty chains
# that wait for deletion left out).
SCRIPT = r"""
import json, subprocess, sys

def nft(text):
    r = subprocess.run(["nft", "-f", "-"], input=text, capture_output=True, text=True, timeout=30)
    return r.stderr.strip() if r.returncode else None

def table(name, empty_ok):
    out = subprocess.run(["nft", "-j", "list", "table", "ip", name], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    chains, rules, sets = {}, {}, {}
    for item in json.loads(out)["nftables"]:
        kind, body = next(iter(item.items()))
        if kind == "chain":
            chains[body["name"]] = {k: v for k, v in body.items()
                                    if k not in ("handle", "table")}
        elif kind == "rule":
            rules.setdefault(body["chain"], []).append(json.dumps(body["expr"], sort_keys=True))
        elif kind in ("set", "map"):
            elems = sorted(json.dumps(e, sort_keys=True) for e in body.get("elem", []))
            sets[body["name"]] = [kind, {k: v for k, v in body.items()
                                         if k not in ("handle", "table", "elem")}, elems]
    for name in list(chains):
        if name not in rules and name in empty_ok:
            del chains[name]
    return {"chains": chains, "rules": rules, "sets": sets}

results = []
for step in json.loads(sys.stdin.read()):
    error = nft(step["partial"]) if step["partial"] is not None else None
    if error is None and step["full"] is not None:
        error = nft(step["full"])
    if error:
        results.append({"error": error})
        break
    check = nft(step["check"])
    if check:
        results.append({"error": "check: " + check})
        break
    results.append({"partial": table("localsvc", set(step["stale"])),
                    "full": table("check", set())})
print(json.dumps(results))
"""


def steps_of(walk: list[tuple[Snapshot, bool]]) -> list[dict[str, object]]:
    """The container's steps for a walk of snapshots (with the delete_chains of each step)."""
    steps: list[dict[str, object]] = []
    stale: set[str] = set()
    previous = None
    for snapshot, delete_stale in walk:
        model = ruleset_model(snapshot)
        step: dict[str, object] = {"partial": None, "full": None,
                                   "check": ruleset_text(model, "check")}
        tx = None
        if previous is not None:
            tx = partial_transaction(previous, model, "localsvc",
                                     sorted(stale) if delete_stale else ())
        if tx is None:
            step["full"], stale = ruleset_text(model, "localsvc"), set()
        else:
            step["partial"] = tx.text
            stale = (stale - tx.added - tx.deleted) | tx.flushed
        step["stale"] = sorted(stale)
        steps.append(step)
        previous = model
    return steps


def run_in_nft(steps: list[dict[str, object]]) -> list[dict[str, object]]:
    result = subprocess.run(
        ["docker", "run", "--rm", "-i", "--cap-add", "NET_ADMIN", "--network", "none",
         BASE_IMAGE, "python3", "-c", SCRIPT],
        input=json.dumps(steps), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def assert_same_tables(results: list[dict[str, object]], count: int) -> None:
    for i, result in enumerate(results):
        assert "error" not in result, f"step {i}: {result['error']}"
        assert result["partial"] == result["full"], f"step {i}: the tables differ"
    assert len(results) == count


@pytest.mark.integration
def test_golden_transactions_in_the_kernel() -> None:
    walk: list[tuple[Snapshot, bool]] = []
    for name in sorted(CASES):  # each case from its own full render
        old, new = CASES[name]
        walk += [(old, False), (new, False)]
    steps = steps_of(walk)
    for i in range(0, len(steps), 2):  # start every case from the full render of its old table
        steps[i]["partial"], steps[i]["full"] = None, str(steps[i]["check"]).replace(
            "table ip check", "table ip localsvc")
        steps[i]["stale"] = []
    assert_same_tables(run_in_nft(steps), len(steps))


@pytest.mark.integration
def test_random_walk_in_the_kernel() -> None:
    rng = random.Random(15)
    walk = [(random_snapshot(rng), rng.random() < 0.5) for _ in range(60)]
    steps = steps_of(walk)
    assert sum(1 for s in steps if s["partial"]) > 40  # mostly partial syncs
    assert any("delete chain" in str(s["partial"]) for s in steps)
    assert any("delete set" in str(s["partial"]) for s in steps)
    assert_same_tables(run_in_nft(steps), len(steps))
