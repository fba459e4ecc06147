"""The status of an environment: Services, their addresses, host URLs, ready endpoints; then
what the node stores but does not serve (and why), and a state file it had to set aside."""

from __future__ import annotations

from typing import Any

from localsvc.host.api import Environment, host_url
from localsvc.host.ingressurl import fallback_note
from localsvc.host.output import table
from localsvc.runtime.environment import state_volume_name


def problems_text(node_status: dict[str, Any]) -> str:
    """The node's problems for people: the quarantined state file first, then each stored
    object it skips, by name, with the reason and what was skipped."""
    lines = []
    if node_status.get("stateError"):
        volume = state_volume_name(str(node_status.get("env") or ""))
        lines.append(f"error: {node_status['stateError']} (volume {volume})")
    ingress = fallback_note(node_status.get("ingress") or {})  # fallback ports, a refusal
    if ingress:
        lines.append(ingress)
    problems = node_status.get("problems") or []
    if problems:
        lines.append(f"{len(problems)} problem(s) with stored objects; these parts are skipped "
                     "and everything else is served:")
        lines += [f"  {p.get('object')}: {p.get('message')}" for p in problems]
    return "\n".join(lines)


def status_rows(services: list[dict[str, Any]], endpoints: list[dict[str, Any]],
                host_address: str) -> list[list[str]]:
    """The status table, a header and a row a Service: its type, ClusterIP (an ExternalName's
    target), where the host reaches its first port, and ready/all endpoint addresses."""
    by_name = {(e["metadata"].get("namespace"), e["metadata"]["name"]): e for e in endpoints}
    rows = [["NAMESPACE", "SERVICE", "TYPE", "CLUSTER-IP", "HOST URL", "READY"]]
    for svc in services:
        meta, spec = svc["metadata"], svc["spec"]
        subsets = (by_name.get((meta.get("namespace"), meta["name"])) or {}).get("subsets") or []
        ready = sum(len(s.get("addresses") or []) for s in subsets)
        total = ready + sum(len(s.get("notReadyAddresses") or []) for s in subsets)
        ports = spec.get("ports") or []
        url = (host_url(svc, ports[0], host_address) if ports else None) or (
            "<pending>" if spec.get("type") == "LoadBalancer" else "-")
        stype = spec.get("type", "ClusterIP")
        target = spec.get("externalName", "") if stype == "ExternalName" else spec.get("clusterIP") or "-"
        counts = "-" if stype == "ExternalName" else f"{ready}/{total}"
        rows.append([meta.get("namespace", ""), meta["name"], stype, target, url, counts])
    return rows


def status_table(env: Environment) -> str:
    rows = status_rows(env.get("svc", namespace=None), env.get("endpoints", namespace=None),
                       env.host_address)
    problems = problems_text(env.node().get("/v1/status"))
    return table(rows) + (f"\n\n{problems}" if problems else "")
