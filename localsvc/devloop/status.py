"""The status table of an environment: Services, their addresses, host URLs, ready endpoints."""

from __future__ import annotations

from localsvc.api import Environment, host_url
from localsvc.output import table


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
    return table(rows)
