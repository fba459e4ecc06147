"""New connections per service port, as the dataplane counts them (the node's /v1/connections).

Owns reading the counts and turning them into the ConnectionCounts body the dashboard reads.
nftables mode: every element of the `services` map carries a counter (nftmodel.counter_statement)
bumped by each packet that looks it up; the map is consulted in NAT chains, which see a
connection's first packet only, so a count is that key's new connections. One `nft -j list map`
reads them all; the ClusterIP and NodePort elements of a port (their comments are the port's
label, the NodePort one with " nodePort") are added up. Userspace mode: the proxy counts the
connections (UDP: flows) each listener accepted (proxy.UserspaceProxy.accepted).

A kernel counter starts again from 0 when its element is replaced (the table rendered whole,
or the port left without ready endpoints and back); `Totals` keeps each port's total from
going down while the node runs, so the page's per-second rate never turns negative.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from localsvc.net.nftables import PortRule
from localsvc.net.nftmodel import SERVICES_MAP

NODE_PORT_NOTE = " nodePort"  # nftables.port_model's comment suffix on a NodePort element
READ_TIMEOUT = 10.0


def parse_map_counters(nft_json: str) -> dict[str, int]:
    """`nft -j list map ...` output -> service port label -> packets counted (ClusterIP and
    NodePort elements added up). Elements without a comment or a counter are not ours."""
    counts: dict[str, int] = {}
    for item in json.loads(nft_json).get("nftables", []):
        body = item.get("map") if isinstance(item, dict) else None
        if not isinstance(body, dict):
            continue
        for element in body.get("elem", []):
            # A map element is [{"elem": {"val": key, "comment": ..., "counter": ...}}, verdict].
            head = element[0] if isinstance(element, list) and element else element
            elem = head.get("elem") if isinstance(head, dict) else None
            if not isinstance(elem, dict):
                continue
            comment, counter = elem.get("comment"), elem.get("counter")
            if not isinstance(comment, str) or not isinstance(counter, dict):
                continue
            label = comment.removesuffix(NODE_PORT_NOTE)
            counts[label] = counts.get(label, 0) + int(counter.get("packets", 0))
    return counts


class Totals:
    """Running totals per label that never go down: a reading below the last one means the
    counter started again, and what it had counted is kept as a base."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._base: dict[str, int] = {}

    def observe(self, readings: Mapping[str, int]) -> dict[str, int]:
        """The totals after `readings` (label -> the counter's value now). A label missing
        from `readings` (no element: a port without ready endpoints) keeps its total and its
        next reading starts from 0."""
        for label, value in readings.items():
            last = self._last.get(label, 0)
            if value < last:
                self._base[label] = self._base.get(label, 0) + last
            self._last[label] = value
        for label in set(self._last) - set(readings):
            self._base[label] = self._base.get(label, 0) + self._last.pop(label)
        return {label: self._base.get(label, 0) + self._last.get(label, 0)
                for label in set(self._base) | set(self._last)}


def connection_counts(rules: Iterable[PortRule], totals: Mapping[str, int], now: float,
                      counting: str | None) -> dict[str, Any]:
    """The ConnectionCounts body: every proxied Service port (sorted as the rules are), with
    its total new connections (0 when none was counted; none at all when nothing counts)."""
    services = [{"namespace": r.namespace, "name": r.service, "port": r.port.port,
                 "protocol": r.port.protocol.upper(), "connections": totals.get(r.label, 0)}
                for r in rules]
    return {"kind": "ConnectionCounts", "time": now, "counting": counting,
            "services": services}


async def read_nft_counters(table: str = "localsvc") -> dict[str, int]:
    """The `services` map's counters of table `ip <table>`, by service port label; {} when the
    table does not exist yet (before the first sync)."""
    proc = await asyncio.create_subprocess_exec(
        "nft", "-j", "list", "map", "ip", table, SERVICES_MAP,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), READ_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        if b"No such file or directory" in err:
            return {}
        raise RuntimeError(f"`nft -j list map ip {table} {SERVICES_MAP}` exited "
                           f"{proc.returncode}: {err.decode(errors='replace').strip()}")
    return parse_map_counters(out.decode())


__all__ = ["Totals", "connection_counts", "parse_map_counters", "read_nft_counters"]
