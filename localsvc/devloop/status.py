"""The status of an environment: Services, their addresses, host URLs, ready endpoints; then
what the node stores but does not serve (and why), and a state file it had to set aside."""

from __future__ import annotations

from typing import Any

from localsvc.api import Environment, host_url
from localsvc.output import table
from localsvc.runtime.environment import state_volume_name


def problems_text(node_status: dict[str, Any]) -> str:
    """The node's problems for people: the quarantined state file first, then each stored
    object it skips, by name, with the reason and what was skipped."""
    lines = []
    if node_status.get("stateError"):
        volume = state_volume_name(str(node_status.get("env") or ""))
        lines.append(f"error: {node_status['stateError']} (volume {volume})")
    problems = node_status.get("problems") or []
    if problems:
        lines.append(f"{len(problems)} problem(s) with stored objects; these parts are skipped "
                     "and everything else is served:")
        lines += [f"  {p.get('object')}: {p.get('message')}" for p in problems]
    return "\n".join(lines)


def status_table(env: Environment) -> str:
    services = env.get("svc", namespace=None)
    endpoints = {(e["metadata"].get("namespace"), e["metadata"]["name"]): e
                 for e in env.get("endpoints", namespace=None)}
    rows = [["NAMESPACE", "SERVICE", "TYPE", "CLUSTER-IP", "HOST URL", "READY"]]
    for svc in services:
        meta, spec = svc["metadata"], svc["spec"]
        ep = endpoints.get((meta.get("namespace"), meta["name"])) or {}
        ready = sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])
        total = ready + sum(len(s.get("notReadyAddresses") or []) for s in ep.get("subsets") or [])
        ports = spec.get("ports") or []
        url = (host_url(svc, ports[0], env.host_address) if ports else None) or (
            "<pending>" if spec.get("type") == "LoadBalancer" else "-")
        stype = spec.get("type", "ClusterIP")
        target = spec.get("externalName", "") if stype == "ExternalName" else spec.get("clusterIP") or "-"
        counts = "-" if stype == "ExternalName" else f"{ready}/{total}"
        rows.append([meta.get("namespace", ""), meta["name"], stype, target, url, counts])
    problems = problems_text(env.node().get("/v1/status"))
    return table(rows) + (f"\n\n{problems}" if problems else "")
